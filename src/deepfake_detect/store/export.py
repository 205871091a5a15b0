"""Exporting results of a time range as JSON Lines or CSV (``GET /v1/results/export``,
``deepfake-detect export``), read from a ``ResultStore`` a page at a time, oldest first.

JSON Lines: one result a line, the same record as ``GET /v1/results/{id}`` answers.
CSV: one row a result, the flat columns of ``CSV_COLUMNS`` (a header row first):

    id, created_at, owner, path, media_kind, status, verdict, score, threshold, threshold_real,
    evidence_kind, classifier_verdict, verdict_reason, faces, tracks, width, height, duration_s,
    frames_sampled, model_name, model_version, model_sha256, declared_ai, sha256, total_ms, error_code,
    error_message

``faces`` and ``tracks`` are counts, ``declared_ai`` says whether the file's own metadata declares
AI generation (empty when it was not read), ``sha256`` is the uploaded bytes' digest where the
store kept it, ``total_ms`` the scan's time. Empty cells are missing values. A text cell that a
spreadsheet would run as a formula (it starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return: a file may be named so) is written with a leading ``'``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from enum import StrEnum

from deepfake_detect.core.result import DetectionResult
from deepfake_detect.store.base import Position, ResultStore, position_of

# Records read from the store at a time.
PAGE_SIZE = 100

CSV_COLUMNS = (
    "id",
    "created_at",
    "owner",
    "path",
    "media_kind",
    "status",
    "verdict",
    "score",
    "threshold",
    "threshold_real",
    "evidence_kind",
    "classifier_verdict",
    "verdict_reason",
    "faces",
    "tracks",
    "width",
    "height",
    "duration_s",
    "frames_sampled",
    "model_name",
    "model_version",
    "model_sha256",
    "declared_ai",
    "sha256",
    "total_ms",
    "error_code",
    "error_message",
)
# Columns a person or a file name fills in: neutralised against spreadsheet formulas.
_TEXT_COLUMNS = {"owner", "path", "verdict_reason", "error_message"}
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class ExportFormat(StrEnum):
    JSONL = "jsonl"
    CSV = "csv"


MEDIA_TYPES = {ExportFormat.JSONL: "application/x-ndjson", ExportFormat.CSV: "text/csv; charset=utf-8"}


def csv_row(result: DetectionResult) -> dict[str, str]:
    """The flat CSV row of a result (see ``CSV_COLUMNS``)."""
    model, error, provenance = result.model, result.error, result.provenance
    total = result.timings_ms.get("total")
    row: dict[str, object] = {
        "id": result.id,
        "created_at": result.created_at.astimezone(UTC).isoformat(),
        "owner": result.owner,
        "path": result.path,
        "media_kind": result.media_kind.value,
        "status": result.status.value,
        "verdict": result.verdict and result.verdict.value,
        "score": result.score,
        "threshold": result.threshold,
        "threshold_real": result.threshold_real,
        "evidence_kind": result.evidence_kind,
        "classifier_verdict": result.classifier_verdict and result.classifier_verdict.value,
        "verdict_reason": result.verdict_reason,
        "faces": len(result.faces),
        "tracks": len(result.tracks),
        "width": result.width,
        "height": result.height,
        "duration_s": result.duration_s,
        "frames_sampled": result.frames_sampled,
        "model_name": model and model.name,
        "model_version": model and model.version,
        "model_sha256": model and model.sha256,
        "declared_ai": None if provenance is None else str(provenance.declared_ai).lower(),
        "sha256": result.source.get("sha256"),
        "total_ms": total,
        "error_code": error and error.code.value,
        "error_message": error and error.message,
    }
    cells = {key: "" if value is None else str(value) for key, value in row.items()}
    for key in _TEXT_COLUMNS:
        if cells[key].startswith(_FORMULA_START):
            cells[key] = "'" + cells[key]
    return cells


def csv_header() -> bytes:
    return _csv_line(dict(zip(CSV_COLUMNS, CSV_COLUMNS, strict=True)))


def encode(result: DetectionResult, fmt: ExportFormat) -> bytes:
    """One record as a line of the format (with its line end)."""
    if fmt is ExportFormat.JSONL:
        return result.model_dump_json().encode() + b"\n"
    return _csv_line(csv_row(result))


def _csv_line(row: dict[str, str]) -> bytes:
    text = io.StringIO()
    csv.DictWriter(text, fieldnames=CSV_COLUMNS, lineterminator="\r\n").writerow(row)
    return text.getvalue().encode()


def records(
    results: ResultStore,
    since: datetime,
    until: datetime,
    *,
    owner: str | None,
    after: Position | None = None,
    page_size: int = PAGE_SIZE,
) -> Iterator[DetectionResult]:
    """Every record created in ``[since, until)``, oldest first, read ``page_size`` at a time."""
    while True:
        page = results.between(since, until, owner=owner, limit=page_size, after=after)
        yield from page.items
        if page.last is None:
            return
        after = page.last


def stream(
    results: ResultStore,
    since: datetime,
    until: datetime,
    fmt: ExportFormat,
    *,
    owner: str | None,
    after: Position | None = None,
    header: bool = True,
) -> Iterator[bytes]:
    """The whole export as chunks (a header row first for CSV), one store page at a time."""
    if fmt is ExportFormat.CSV and header:
        yield csv_header()
    chunk: list[bytes] = []
    for result in records(results, since, until, owner=owner, after=after):
        chunk.append(encode(result, fmt))
        if len(chunk) == PAGE_SIZE:
            yield b"".join(chunk)
            chunk = []
    if chunk:
        yield b"".join(chunk)


def bounded(
    results: ResultStore,
    since: datetime,
    until: datetime,
    fmt: ExportFormat,
    *,
    owner: str | None,
    max_bytes: int,
    after: Position | None = None,
) -> tuple[bytes, Position | None]:
    """As much of the export as fits in ``max_bytes`` (at least one record), and where the rest
    starts (None: nothing is left). For a response that cannot stream (Lambda's 6 MB answer)."""
    body = bytearray(csv_header() if fmt is ExportFormat.CSV else b"")
    last: Position | None = None
    for result in records(results, since, until, owner=owner, after=after):
        line = encode(result, fmt)
        if last is not None and len(body) + len(line) > max_bytes:
            return bytes(body), last
        body += line
        last = position_of(result)
    return bytes(body), None


def encode_position(position: Position) -> str:
    """An opaque token for ``position`` (``X-Next-Token``)."""
    created_at, result_id = position
    raw = json.dumps([created_at.astimezone(UTC).isoformat(timespec="microseconds"), result_id])
    return raw.encode().hex()


def decode_position(token: str) -> Position:
    """``ValueError`` for anything ``encode_position`` did not make."""
    try:
        decoded = json.loads(bytes.fromhex(token))
        if not (isinstance(decoded, list) and len(decoded) == 2 and all(isinstance(v, str) for v in decoded)):
            raise ValueError("not a position")
        moment = datetime.fromisoformat(decoded[0])
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (ValueError, TypeError, RecursionError, OverflowError) as exc:
        raise ValueError("invalid export token") from exc
    return moment, decoded[1]
