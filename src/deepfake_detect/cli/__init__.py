"""`deepfake-detect`: scan files from the command line, or start the local service."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from deepfake_detect.cli.operations import add_commands as add_operations_commands
from deepfake_detect.cli.registry import add_commands as add_registry_commands
from deepfake_detect.cli.remote import add_scan_options, scan_remote
from deepfake_detect.cli.results import add_commands as add_result_commands
from deepfake_detect.cli.scan import _frames, scan_local
from deepfake_detect.settings import get_settings


def _scan(args: argparse.Namespace) -> int:
    """`scan`: through a deployed API with ``--api`` (cli/remote.py), else on this machine
    (cli/scan.py). Named apart from the module ``cli.scan``, which it would hide."""
    if getattr(args, "api", None):
        return scan_remote(args)
    return scan_local(args)


def serve(args: argparse.Namespace) -> int:
    from deepfake_detect.cli import serving
    from deepfake_detect.local.wiring import local_app

    settings = get_settings()
    overrides = {"service.host": args.host, "service.port": args.port, "data_dir": args.data_dir}
    settings = settings.updated({k: v for k, v in overrides.items() if v is not None})
    serving.run(local_app(settings), settings.service)  # uvicorn, with read deadlines
    return 0


def fetch_models(args: argparse.Namespace) -> int:
    from deepfake_detect.model_files import ChecksumError, ensure_detector_model

    try:
        path = ensure_detector_model(get_settings(), allow_download=not args.no_download)
    except (OSError, ChecksumError) as exc:  # no source, no network, or a file that fails its sha256
        print(f"deepfake-detect: cannot put the face detector in place: {exc}", file=sys.stderr)
        return 1
    print(f"face detector ready: {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="deepfake-detect", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    commands = parser.add_subparsers(dest="command", required=True)

    p = commands.add_parser(
        "scan",
        help="scan images and videos (files or folders, recursive)",
        epilog="exit status: 0 every file was scanned, 1 some file failed, 2 nothing to scan or no model",
    )
    p.add_argument("paths", nargs="+", help="files or folders")
    p.add_argument("--json", action="store_true", help="one JSON result per line instead of a table")
    p.add_argument("--frames", type=_frames, help="frames to sample per video (default: setting)")
    p.add_argument(
        "--workers",
        type=int,
        default=0,
        help="files scanned at once (default 0: one per CPU, at most 4; 1: one after the other, "
        "with a frame progress bar); results keep the order of the files either way",
    )
    p.add_argument("--progress", action="store_true", help="show progress bars even when not on a terminal")
    p.add_argument("--no-progress", action="store_true", help="never show progress bars")
    add_scan_options(p)  # --api URL, --token: scan through a deployed API
    p.set_defaults(handler=_scan)

    p = commands.add_parser("serve", help="start the local service and web page")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.add_argument("--data-dir", type=Path, help="where uploads and the results database live")
    p.set_defaults(handler=serve)

    p = commands.add_parser("fetch-models", help="put the face-detector model in place (sha256 checked)")
    p.add_argument("--no-download", action="store_true", help="only copy from the shared folder")
    p.set_defaults(handler=fetch_models)

    add_registry_commands(commands)  # retrain, rollback
    add_result_commands(commands)  # delete
    add_operations_commands(commands)  # backfill, deliveries
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    code: int = args.handler(args)
    return code
