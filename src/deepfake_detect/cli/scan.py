"""`deepfake-detect scan`: images and videos (files, or folders searched recursively) scanned on
this machine, one table row or JSON line per file, in the order given. The inputs, the table and
the exit statuses are also those of a scan through a deployed API (``--api``: cli/remote.py).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from tqdm import tqdm

from deepfake_detect.cli.progress import ProgressBar
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


HEADER = f"{'verdict':<12} {'score':>6} {'detail':<21} {'credentials':<15} {'time':>11}  path"


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
    row = f"{result.verdict or '-':<12} {score:>6} {detail:<21} {origin:<15} {total:>8.0f} ms  {result.path}"
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


def scan_local(args: argparse.Namespace) -> int:
    """Scan ``args.paths`` here, with the registry's current model (else the shipped one)."""
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
