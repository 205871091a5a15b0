"""``python -m infra.local stack``: the local AWS stack, its resources, detect workers and the cloud API.
``python -m infra.local worker``: one function "container" (what ``stack`` starts, and what tests
start): the detect function on the detect queue, or ``--function dead-letters``, the dead-letter
consumer on its dead-letter queue.

``make stack`` runs the first; stop it with Ctrl-C or SIGTERM (servers and workers are stopped by pid).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from types import FrameType

from deepfake_detect.settings import Settings
from infra.local.stack import LocalAwsStack, StackResources, aws_environment, free_port
from infra.local.worker import LambdaWorker

WORKER_READY = "worker ready"  # the line a worker prints once imported (tests wait for it)


FUNCTIONS = {
    # --function: the module a worker imports like a container, and its Lambda name
    "detect": ("functions.detect.app", "detect-local"),
    "dead-letters": ("functions.dead_letters.app", "dead-letters-local"),
}


def start_workers(
    env: dict[str, str],
    resources: StackResources,
    count: int,
    log_dir: Path,
    *,
    batch_size: int = 10,
    timeout_s: float = 120.0,
    function: str = "detect",
) -> list[subprocess.Popen[bytes]]:
    """``count`` worker processes, each importing the function's module like a container: the
    detect function on the detect queue, or the dead-letter consumer on its dead-letter queue
    (logs ``worker-<n>.log``, ``dead-letters-<n>.log``)."""
    if function == "detect":
        queue_url, queue_arn, log_name = resources.queue_url, resources.queue_arn, "worker"
    else:
        queue_url, queue_arn = resources.dead_letter_queue_url, resources.dead_letter_queue_arn
        log_name = function
    workers = []
    for index in range(count):
        log = (log_dir / f"{log_name}-{index}.log").open("ab")
        workers.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "infra.local",
                    "worker",
                    "--function",
                    function,
                    "--queue-url",
                    queue_url,
                    "--queue-arn",
                    queue_arn,
                    "--batch-size",
                    str(batch_size),
                    "--timeout",
                    str(timeout_s),
                ],
                env={**os.environ, **env, "AWS_LAMBDA_FUNCTION_NAME": FUNCTIONS[function][1]},
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=Path(__file__).resolve().parents[2],
            )
        )
        log.close()
    return workers


def stop_processes(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def run_worker(args: argparse.Namespace) -> int:
    # The import is the cold start: settings from the environment, clients, models.
    import importlib

    from deepfake_detect.aws.adapters.clients import sqs_client
    from deepfake_detect.settings import get_settings

    module, function_name = FUNCTIONS[args.function]
    worker = LambdaWorker(
        sqs_client(get_settings()),
        args.queue_url,
        args.queue_arn,
        importlib.import_module(module).lambda_handler,
        batch_size=args.batch_size,
        timeout_s=args.timeout,
        function_name=function_name,
    )
    stop = threading.Event()

    def on_term(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_term)
    print(f"{WORKER_READY}: polling {args.queue_url}", flush=True)  # the cold start is over
    worker.run(stop)
    return 0


def run_stack(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO)
    # SIGTERM and SIGINT stop the stack: the exception unwinds through the `finally` and the `with`
    # below, which stop the workers and both servers by pid. (uvicorn handles both while it
    # serves, then raises the signal again once it has stopped: it lands here too.)
    signal.signal(signal.SIGTERM, _exit_on_signal)
    signal.signal(signal.SIGINT, _exit_on_signal)
    base = Settings()
    if not base.classifier_path.is_file():
        print(
            f"no classifier at {base.classifier_path}: train one or set DEEPFAKE_MODELS_DIR", file=sys.stderr
        )
        return 2
    work_dir = Path(tempfile.mkdtemp(prefix="deepfake-stack-"))
    with LocalAwsStack(work_dir) as stack, aws_environment():
        resources = stack.provision(StackResources.named("local"), base)
        settings = stack.settings(base, resources)
        env = stack.environment(settings)
        workers: list[subprocess.Popen[bytes]] = []
        try:
            workers += start_workers(env, resources, args.workers, work_dir)
            # The template's DeadLetterFunction: fails what reaches the dead-letter queue (its timeout: 30 s).
            workers += start_workers(env, resources, 1, work_dir, timeout_s=30.0, function="dead-letters")
            serve_stack(stack, resources, settings, work_dir, args.port or free_port())
        finally:
            stop_processes(workers)
    return 0


def serve_stack(
    stack: LocalAwsStack, resources: StackResources, settings: Settings, work_dir: Path, port: int
) -> None:
    """Print where everything is, then serve the cloud API until stopped."""
    import uvicorn

    from deepfake_detect.api.app import create_app
    from deepfake_detect.aws.wiring import cloud_services
    from infra.local.auth import DevJwtAuthorizer

    print(
        f"moto server      {stack.endpoint}\nDynamoDB Local   {stack.dynamodb_endpoint}\n"
        f"upload bucket    s3://{resources.upload_bucket}/{settings.aws.upload_prefix}\n"
        f"results table    {resources.results_table}\nfeedback table   {resources.feedback_table}\n"
        f"queue            {resources.queue_url}\n"
        f"dead letters     {resources.dead_letter_queue_url} (failed by the dead-letter consumer)\n"
        f"event bus        {resources.event_bus_name} (Scan Completed events)\n"
        f"cloud API        http://127.0.0.1:{port}/docs (as 'stack-user'; another user: "
        "Authorization: Bearer $(python -m infra.local token --sub bob))\n"
        f"logs             {work_dir}\n"
        "environment for the AWS CLI or boto3:"
    )
    for name, value in stack.environment(settings).items():
        print(f"  export {name}={value}")
    print(f"  export AWS_ENDPOINT_URL={stack.endpoint}")
    # The JWT authorizer's part, without signatures: a bearer token's claims, else one user.
    uvicorn.run(
        DevJwtAuthorizer(create_app(settings, cloud_services(settings))),
        host="127.0.0.1",
        port=port,
        log_level="warning",
    )


def _exit_on_signal(signum: int, frame: FrameType | None) -> None:
    """Unwind once: a second signal while the children are being stopped would leave some running."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.local")
    commands = parser.add_subparsers(dest="command", required=True)
    stack = commands.add_parser("stack", help="start the local AWS stack, workers and the cloud API")
    stack.add_argument("--workers", type=int, default=1)
    stack.add_argument("--port", type=int, default=0, help="port of the cloud API (default: a free one)")
    worker = commands.add_parser("worker", help="poll a queue and invoke a function's handler")
    worker.add_argument("--function", choices=sorted(FUNCTIONS), default="detect")
    worker.add_argument("--queue-url", required=True)
    worker.add_argument("--queue-arn", required=True)
    worker.add_argument("--batch-size", type=int, default=10)
    worker.add_argument("--timeout", type=float, default=120.0)
    token = commands.add_parser("token", help="an unsigned token for the local stack's cloud API")
    token.add_argument("--sub", required=True, help="the user's id (owner of what they upload)")
    token.add_argument("--email", default="")
    token.add_argument("--group", action="append", default=[], help="e.g. reviewers (repeatable)")
    args = parser.parse_args(argv)
    if args.command == "token":
        from infra.local.auth import dev_token

        print(dev_token(args.sub, args.email, tuple(args.group)))
        return 0
    return run_worker(args) if args.command == "worker" else run_stack(args)


if __name__ == "__main__":
    sys.exit(main())
