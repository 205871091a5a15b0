"""`deepfake-detect scan --api URL`: the CLI as a client of a deployed stack (or of a local
service), through ``deepfake_detect.client``.

Each file is uploaded (the presigned POST in the cloud, ``POST /v1/detect`` locally; a few at a
time), then its result is polled with the same progress bars as a local scan (one over the
files, one over the file being waited for), and printed in the same table or JSON lines, in the
order the files were given. The ``path`` printed is the path given on the command line, as a
local scan prints it; the record in the API keeps the uploaded name. Exit status as a local
scan: 0 every file scanned, 1 some file failed, 2 nothing to scan or the API unusable (not
reachable, the token refused).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from tqdm import tqdm

from deepfake_detect.cli.progress import ProgressBar
from deepfake_detect.cli.scan import EXIT_FAILED, EXIT_OK, EXIT_USAGE, HEADER, _row, iter_inputs
from deepfake_detect.client import ApiError, DeepfakeClient, content_type_of
from deepfake_detect.core.errors import ErrorCode
from deepfake_detect.core.formats import UNSUPPORTED_MEDIA
from deepfake_detect.core.hashing import file_sha256
from deepfake_detect.core.result import DetectionResult, Status

TOKEN_ENV = "DEEPFAKE_API_TOKEN"
UPLOADS_AT_ONCE = 4
_CODES = {code.value for code in ErrorCode}


def add_scan_options(parser: argparse.ArgumentParser) -> None:
    """The options of ``scan`` that make it a client of a deployed API."""
    group = parser.add_argument_group("remote scan (a deployed stack or a running service)")
    group.add_argument("--api", metavar="URL", help="scan through this API instead of on this machine")
    group.add_argument(
        "--token", help=f"bearer token for the API (default: ${TOKEN_ENV}); the Cognito ID token in the cloud"
    )
    group.add_argument("--poll", type=float, default=1.0, metavar="SECONDS", help="poll interval (default 1)")
    group.add_argument(
        "--wait",
        type=float,
        default=900.0,
        metavar="SECONDS",
        help="longest wait for one result (default 900)",
    )


class _UnusableApiError(Exception):
    """The API cannot be used at all (unreachable, the token refused): stop, exit 2."""


def _failed(path: Path, code: ErrorCode, message: str) -> DetectionResult:
    return DetectionResult.failed(str(path), code, message)


def _submit(client: DeepfakeClient, path: Path) -> DetectionResult:
    """Send one file; a file refused for what it is becomes its failed result (as a local scan)."""
    try:
        if not path.is_file():
            return _failed(path, ErrorCode.NOT_FOUND, f"no such file: {path}")
        if path.stat().st_size == 0:
            return _failed(path, ErrorCode.EMPTY_FILE, "the file is empty")
        content_type = content_type_of(path)
    except OSError as exc:
        return _failed(path, ErrorCode.NOT_FOUND, f"cannot read {path}: {exc.strerror or exc}")
    if content_type is None:
        return _failed(path, ErrorCode.UNSUPPORTED_TYPE, UNSUPPORTED_MEDIA)
    try:
        return client.submit(path, content_type, idempotency_key=idempotency_key(path))
    except ApiError as exc:
        if exc.status in (401, 403) and exc.code in ("http_401", "http_403"):
            raise _UnusableApiError(
                f"the API refused the request ({exc.status}): check --token or ${TOKEN_ENV}"
            ) from exc
        code = ErrorCode(exc.code) if exc.code in _CODES else ErrorCode.INTERNAL_ERROR
        return _failed(path, code, exc.message)


def idempotency_key(path: Path) -> str:
    """The upload's ``Idempotency-Key``: the file's sha256 and a hash of its name, so a retry of
    the same file (a dropped connection, the command run again) is answered with the first
    result instead of being scanned twice, while the same bytes under another name are a new upload."""
    name = hashlib.sha256(path.name.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return f"{file_sha256(path)}-{name}"


def _await(
    client: DeepfakeClient, record: DetectionResult, bar: ProgressBar, args: argparse.Namespace
) -> DetectionResult:
    if record.status in (Status.DONE, Status.FAILED):
        return record

    def progress(result: DetectionResult) -> None:
        if result.status is Status.PROCESSING and result.progress is not None:
            bar(max(1, round(result.progress * 100)), 100)

    try:
        return client.wait(record.id, poll_s=args.poll, timeout_s=args.wait, progress=progress)
    except TimeoutError as exc:
        return _failed(Path(record.path), ErrorCode.INTERNAL_ERROR, str(exc))


def scan_remote(args: argparse.Namespace) -> int:
    if getattr(args, "frames", None):
        print(
            "deepfake-detect: --frames applies to a local scan (the API's setting decides)", file=sys.stderr
        )
        return EXIT_USAGE
    files = list(iter_inputs(args.paths))
    if not files:
        print("deepfake-detect: no media files found", file=sys.stderr)
        return EXIT_USAGE
    client = DeepfakeClient(args.api, token=args.token or os.environ.get(TOKEN_ENV))
    try:
        client.mode  # noqa: B018  (GET /health: reachable, and which way uploads go)
    except (ApiError, OSError, ValueError) as exc:
        print(f"deepfake-detect: cannot use the API at {args.api}: {exc}", file=sys.stderr)
        return EXIT_USAGE

    failures = 0
    show_bar = args.progress or (not args.no_progress and sys.stderr.isatty())
    with (
        ThreadPoolExecutor(UPLOADS_AT_ONCE, thread_name_prefix="upload") as uploads,
        tqdm(
            total=len(files), unit="file", disable=not show_bar or len(files) < 2, file=sys.stderr
        ) as files_bar,
    ):
        submitted: list[Future[DetectionResult]] = [uploads.submit(_submit, client, path) for path in files]
        if not args.json:
            tqdm.write(HEADER)
        try:
            for path, future in zip(files, submitted, strict=True):
                bar = ProgressBar(path.name, "%", show_bar)
                try:
                    result = _await(client, future.result(), bar, args)
                finally:
                    bar.close()
                result = result.model_copy(update={"path": str(path)})  # as a local scan shows it
                failures += result.error is not None
                tqdm.write(result.model_dump_json() if args.json else _row(result))
                files_bar.update(1)
        except _UnusableApiError as exc:
            for future in submitted:
                future.cancel()
            print(f"deepfake-detect: {exc}", file=sys.stderr)
            return EXIT_USAGE
        except (ApiError, OSError) as exc:  # polling failed after its retries
            for future in submitted:
                future.cancel()
            print(f"deepfake-detect: the API failed: {exc}", file=sys.stderr)
            return EXIT_USAGE
    return EXIT_FAILED if failures else EXIT_OK
