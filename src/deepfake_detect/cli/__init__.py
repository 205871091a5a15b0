"""`deepfake-detect`: scan files from the command line, or start the local service."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from tqdm import tqdm

from deepfake_detect.cli.operations import add_commands as add_operations_commands
from deepfake_detect.cli.progress import ProgressBar
from deepfake_detect.cli.registry import add_commands as add_registry_commands
from deepfake_detect.cli.remote import add_scan_options
from deepfake_detect.cli.results import add_commands as add_result_commands
from deepfake_detect.core.formats import MEDIA_EXTENSIONS
from deepfake_detect.core.provenance.model import Provenance
from deepfake_detect.core.provenance.rules import strongest_ai_claim
from deepfake_detect.core.result import DetectionResult
from deepfake_detect.settings import get_settings

# Exit statuses of `scan`.
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def iter_inputs(paths: Sequence[str]) -> Iterator[Path]:
    """Files as given, and media files found recursively in folders, in a stable order.

    Paths that do not exist are passed through so they get a ``not_found`` result.
    """
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            yield from sorted(
                p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in MEDIA_EXTENSIONS
            )
        else:
            yield path


HEADER = f"{'verdict':<8} {'score':>6} {'detail':<18} {'credentials':<15} {'time':>11}  path"


def credentials(provenance: Provenance | None) -> str:
    """The credentials column: what the file's own metadata says, in a word or two.

    ``AI: <source>`` the file declares AI generation (c2pa, xmp, png_text or exif; the verdict is
    then fake); ``C2PA trusted`` / ``C2PA untrusted`` valid content credentials whose signer is or is
    not on the trust list; ``C2PA invalid`` credentials that fail validation; ``C2PA unverified`` a
    manifest store that could not be validated; ``no AI claim`` metadata that names no generator
    (a camera, an editor); ``none`` nothing; ``-`` not read (the file was refused before).
    """
    if provenance is None:
        return "-"
    if provenance.declared_ai:
        strongest = strongest_ai_claim(provenance.claims)
        return f"AI: {strongest.source.value if strongest else 'metadata'}"
    c2pa = provenance.c2pa
    if c2pa is not None and c2pa.present:
        if not c2pa.validated:
            return "C2PA unverified"
        if c2pa.signature_valid is False or c2pa.hashes_match is False or c2pa.validation_state == "Invalid":
            return "C2PA invalid"
        return "C2PA trusted" if c2pa.trusted else "C2PA untrusted"
    return "no AI claim" if provenance.claims else "none"


def _row(result: DetectionResult) -> str:
    score = f"{result.score:.3f}" if result.score is not None else "-"
    detail = str(result.error.code) if result.error else f"{len(result.tracks)} face(s)"
    if result.evidence_kind:  # a fake verdict: what its evidence points to (generated or swapped)
        detail += f" {result.evidence_kind}"
    total = result.timings_ms.get("total", 0.0)
    origin = credentials(result.provenance)
    row = f"{result.verdict or '-':<8} {score:>6} {detail:<18} {origin:<15} {total:>8.0f} ms  {result.path}"
    if result.error:
        return f"{row}  ({result.error.message})"
    if result.verdict_reason:  # the verdict is not the classifier's: say why, and what it said
        said = result.classifier_verdict or "-"
        return f"{row}  (verdict from the file's metadata: {result.verdict_reason}; classifier: {said})"
    return row


def _frames(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 1000:
        raise argparse.ArgumentTypeError("must be between 1 and 1000")
    return value


def scan(args: argparse.Namespace) -> int:
    if getattr(args, "api", None):  # a client of a deployed stack: cli/remote.py
        from deepfake_detect.cli.remote import scan_remote

        return scan_remote(args)
    from deepfake_detect.local.wiring import local_live_detector

    settings = get_settings()
    if args.frames:
        settings = settings.updated({"video.sample_frames": args.frames})
    files = list(iter_inputs(args.paths))
    if not files:
        print("deepfake-detect: no media files found", file=sys.stderr)
        return EXIT_USAGE
    from deepfake_detect.cli.batch import scan_files, threads_per_worker, workers_for

    workers = workers_for(args.workers, len(files))  # several files: one worker per core
    if threads_per_worker(workers):
        settings = settings.updated({"intra_op_threads": threads_per_worker(workers)})
    try:
        detector = local_live_detector(settings)  # the registry's current model, else the shipped one
    except Exception as exc:  # a missing or damaged model: one clear line, not a traceback
        print(f"deepfake-detect: cannot load the models: {exc}", file=sys.stderr)
        return EXIT_USAGE
    failures = 0
    show_bar = args.progress or (not args.no_progress and sys.stderr.isatty())
    with tqdm(
        total=len(files), unit="file", disable=not show_bar or len(files) < 2, file=sys.stderr
    ) as files_bar:
        if not args.json:
            tqdm.write(HEADER)
        for result in scan_files(
            files,
            detector,
            lambda: local_live_detector(settings),
            workers=workers,
            frame_bar=lambda path: ProgressBar(path.name, "frame", show_bar),
        ):
            failures += result.error is not None
            tqdm.write(result.model_dump_json() if args.json else _row(result))
            files_bar.update(1)
    return EXIT_FAILED if failures else EXIT_OK


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    from deepfake_detect.local.wiring import local_app

    settings = get_settings()
    overrides = {"service.host": args.host, "service.port": args.port, "data_dir": args.data_dir}
    settings = settings.updated({k: v for k, v in overrides.items() if v is not None})
    uvicorn.run(local_app(settings), host=settings.service.host, port=settings.service.port, log_level="info")
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
    p.set_defaults(handler=scan)

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
