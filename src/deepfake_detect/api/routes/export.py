"""Export (``GET /v1/results/export``): the caller's results of a time range as JSON Lines (the record
of ``GET /v1/results/{id}``, one a line) or CSV (the flat columns of ``store.export``), oldest
first, read from the store a page at a time.

Locally the answer streams the whole range. In the cloud a Lambda answer cannot stream and holds
at most 6 MB, so an answer stops at ``Services.export_max_bytes`` (at least one record) and its
``X-Next-Token`` header (and ``Link: rel="next"``) fetches the rest; a CSV answer always starts
with its header row. Registered before the results router: ``export`` is not a result id."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query
from fastapi.responses import Response, StreamingResponse
from pydantic import BeforeValidator

from deepfake_detect.api.deps import CallerDep, ServicesDep, client_error, error_responses
from deepfake_detect.store import export
from deepfake_detect.store.export import ExportFormat

router = APIRouter()

NEXT_TOKEN_HEADER = "X-Next-Token"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ISO = re.compile(r"\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}.*)?")

_CONTENT = {
    "application/x-ndjson": {"schema": {"type": "string"}, "example": '{"id": "3f0c…", "status": "done"}\n'},
    "text/csv": {"schema": {"type": "string"}, "example": ",".join(export.CSV_COLUMNS) + "\r\n"},
}


def _iso(value: object) -> object:
    """An ISO 8601 date or date-time only (pydantic would also take a number of seconds)."""
    if isinstance(value, str) and _ISO.match(value):
        return value
    raise ValueError("an ISO 8601 date or date-time, such as 2026-01-31 or 2026-01-31T12:00:00Z")


IsoTime = Annotated[datetime, BeforeValidator(_iso)]


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@router.get(
    "/v1/results/export",
    tags=["results"],
    response_class=Response,
    responses={
        200: {
            "description": "the results, oldest first; in the cloud `X-Next-Token` when more are left",
            "content": _CONTENT,
            "headers": {
                NEXT_TOKEN_HEADER: {
                    "description": "pass as `token` (with the same since, until and format) for the rest",
                    "schema": {"type": "string"},
                }
            },
        },
        **error_responses(400, 401),
    },
)
def export_results(
    services: ServicesDep,
    caller: CallerDep,
    since: Annotated[
        IsoTime | None,
        Query(description="first creation time included (ISO date or date-time; UTC without a zone)"),
    ] = None,
    until: Annotated[
        IsoTime | None,
        Query(description="creation time where the range ends, excluded (default: now)"),
    ] = None,
    format: Annotated[  # the query parameter's name
        ExportFormat, Query(description="jsonl: one result record a line; csv: flat columns, a header row")
    ] = ExportFormat.JSONL,
    token: Annotated[str | None, Query(description="X-Next-Token of the previous answer")] = None,
) -> Response:
    """The caller's results created in `[since, until)`, oldest first, as JSON Lines (each line the
    record `GET /v1/results/{id}` answers) or CSV (columns: id, created_at, owner, path, media_kind,
    status, verdict, score, threshold, threshold_real, evidence_kind, classifier_verdict,
    verdict_reason, faces, tracks, width, height, duration_s, frames_sampled, model_name,
    model_version, model_sha256, declared_ai, sha256, total_ms, error_code, error_message; counts
    for faces and tracks, empty for a missing value, a leading `'` before text a spreadsheet would
    take for a formula). Every status is exported. The local service streams the whole range in
    one answer; the cloud API answers at most a few MB and names the rest in `X-Next-Token`."""
    try:  # no record is older than 1970
        start = max(_utc(since), _EPOCH) if since else _EPOCH
        end = _utc(until) if until else datetime.now(UTC)
    except OverflowError as exc:  # 0001-01-01T00:00+01:00 has no UTC time
        raise client_error(400, "invalid_range", "since and until must be times after 1970") from exc
    if start >= end:
        raise client_error(400, "invalid_range", "since must be before until")
    try:
        after = export.decode_position(token) if token else None
    except ValueError as exc:
        message = "invalid export token: pass X-Next-Token as it was given"
        raise client_error(400, "invalid_token", message) from exc
    name = f"results-{start:%Y%m%d}-{end:%Y%m%d}.{format.value}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"}
    media_type = export.MEDIA_TYPES[format]
    if services.export_max_bytes is None:
        chunks = export.stream(services.results, start, end, format, owner=caller.owner, after=after)
        return StreamingResponse(chunks, media_type=media_type, headers=headers)
    body, last = export.bounded(
        services.results,
        start,
        end,
        format,
        owner=caller.owner,
        max_bytes=services.export_max_bytes,
        after=after,
    )
    if last is not None:
        next_token = export.encode_position(last)
        headers[NEXT_TOKEN_HEADER] = next_token
        query = urlencode(
            {"since": start.isoformat(), "until": end.isoformat(), "format": format.value}
            | {"token": next_token}
        )
        headers["Link"] = f'</v1/results/export?{query}>; rel="next"'
    return Response(body, media_type=media_type, headers=headers)
