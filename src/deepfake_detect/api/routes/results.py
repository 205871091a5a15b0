"""Results: the list, one result, its pictures (evidence image, frame thumbnails, face crops),
deletion, and reviewers' labels.

Every route answers for the caller's own results only: another owner's result is a 404, like one
that does not exist (in the cloud the owner is the token's ``sub``; locally everything is the one
local owner's).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, status
from fastapi.responses import Response
from pydantic import BaseModel, Field

from deepfake_detect.api.deps import CallerDep, ServicesDep, client_error, error_responses, owned_result
from deepfake_detect.api.identity import Caller
from deepfake_detect.api.same_file import ResultView, same_file
from deepfake_detect.api.services import Services
from deepfake_detect.core.result import DetectionResult, Status, Verdict
from deepfake_detect.registry.feedback import Feedback, Label
from deepfake_detect.store.base import ResultSearch
from deepfake_detect.store.keys import face_key

router = APIRouter()
logger = logging.getLogger(__name__)


class ResultPage(BaseModel):
    items: list[DetectionResult]
    next_token: str | None


class FeedbackRequest(BaseModel):
    """The reviewer is the caller (their token's name in the cloud), never a name in the body."""

    label: Label = Field(description="what the reviewer says the file is")
    note: str = Field("", max_length=2000)


DATE_HELP = (
    "ISO 8601: a date (2024-05-01, a whole day in UTC) or a date and time (2024-05-01T14:30:00+02:00; "
    "without an offset, UTC)"
)


@router.get("/v1/results", tags=["results"], responses=error_responses(400, 401, 422))
def list_results(
    services: ServicesDep,
    caller: CallerDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    token: Annotated[str | None, Query(description="next_token of the previous page")] = None,
    q: Annotated[
        str | None,
        Query(max_length=200, description="only results whose file name contains this (any case)"),
    ] = None,
    verdict: Annotated[Verdict | None, Query(description="only results with this verdict")] = None,
    since: Annotated[
        str | None, Query(max_length=40, description=f"only results made at or after this; {DATE_HELP}")
    ] = None,
    until: Annotated[
        str | None,
        Query(
            max_length=40,
            description="only results made before this (a date alone: up to the end of that day); "
            + DATE_HELP,
        ),
    ] = None,
) -> ResultPage:
    """The caller's past results, newest first, searched by file name, verdict and date when asked.
    Pass ``next_token`` back with the same search for the next page. In the cloud the name and
    verdict are checked after a page of the caller's results is read, so a searched page may hold
    fewer than ``limit`` results, even none, and still have a ``next_token``: the list ends where
    ``next_token`` is null. A bad date, or ``since`` not before ``until``, is a 422 saying which."""
    search = ResultSearch(
        text=q.strip() or None if q else None,
        verdict=verdict,
        since=_moment("since", since, end_of_day=False),
        until=_moment("until", until, end_of_day=True),
    )
    if search.since is not None and search.until is not None and search.since >= search.until:
        raise client_error(
            422, "invalid_query", f"since ({since}) must be before until ({until}): no result can match"
        )
    try:
        page = services.results.list(limit=limit, token=token, owner=caller.owner, search=search or None)
    except (ValueError, RecursionError) as exc:  # RecursionError: a token of "[[[[...]]]]"
        message = "invalid page token: pass next_token as it was given"
        raise client_error(400, "invalid_token", message) from exc
    return ResultPage(items=page.items, next_token=page.next_token)


def _moment(name: str, text: str | None, *, end_of_day: bool) -> datetime | None:
    """A ``since``/``until`` parameter as a UTC-aware time: a date alone is the start of that day
    (``end_of_day``: of the next one, so that ``until`` includes the day named), a time without an
    offset is UTC. 422 ``invalid_query`` for anything else."""
    if text is None or not text.strip():
        return None
    text = text.strip()
    try:
        day = date.fromisoformat(text)
    except ValueError:
        day = None
    if day is not None and len(text) <= 10:
        start = datetime.combine(day, time(), tzinfo=UTC)
        return start + timedelta(days=1) if end_of_day else start
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise client_error(
            422,
            "invalid_query",
            f"{name}={text!r} is not a date or time in ISO 8601, "
            "for example 2024-05-01 or 2024-05-01T14:30:00Z",
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@router.get("/v1/results/{result_id}", tags=["results"], responses=error_responses(401, 404, 410))
def get_result(services: ServicesDep, caller: CallerDep, result_id: str) -> ResultView:
    """The result, and ``same_file``: the caller's other results of the very same bytes (its
    SHA-256) with any reviewer's label on them, which applies to this file too. In the cloud the
    caller's own result deleted in the last 15 days (its tombstone) is 410 ``result_deleted``."""
    result = owned_result(services, caller, result_id)
    view = ResultView.model_validate(result.model_dump())
    view.same_file = same_file(services.results, services.feedback, result)
    return view


@router.delete(
    "/v1/results/{result_id}",
    tags=["results"],
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=error_responses(401, 403, 404),
)
def delete_result(services: ServicesDep, caller: CallerDep, result_id: str) -> Response:
    """Delete the result and everything of its file: the record, the upload, the evidence image
    (and any other image made from it), a reviewer's label of it. A scan still running is not
    recorded when it ends. Another owner's result is a 404."""
    result = owned_result(services, caller, result_id, deleted_is_gone=False)  # a repeat: 404
    if services.deleter is None:
        raise client_error(404, "not_available", "this deployment does not delete results")
    services.deleter.delete(result)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


JPEG_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"image/jpeg": {}}},
    **error_responses(401, 404),
}


@router.get("/v1/results/{result_id}/evidence.jpg", tags=["results"], responses=JPEG_RESPONSES)
def get_evidence(services: ServicesDep, caller: CallerDep, result_id: str) -> Response:
    """The image, or the video's most suspicious frame, that the face boxes refer to."""
    return _picture(
        services,
        caller,
        result_id,
        lambda result: result.evidence.key if result.evidence else None,
        ("evidence_not_found", f"no evidence image for {result_id!r}"),
    )


@router.get("/v1/results/{result_id}/frames/{frame_index}.jpg", tags=["results"], responses=JPEG_RESPONSES)
def get_frame(services: ServicesDep, caller: CallerDep, result_id: str, frame_index: int) -> Response:
    """A sampled video frame's thumbnail (``frames[].thumbnail``: its scale maps the face boxes
    onto it)."""

    def key(result: DetectionResult) -> str | None:
        frame = next((f for f in result.frames if f.frame_index == frame_index), None)
        return frame.thumbnail.key if frame and frame.thumbnail else None

    missing = ("frame_not_found", f"no stored picture of frame {frame_index} of {result_id!r}")
    return _picture(services, caller, result_id, key, missing)


@router.get("/v1/results/{result_id}/faces/{track}.jpg", tags=["results"], responses=JPEG_RESPONSES)
def get_face(services: ServicesDep, caller: CallerDep, result_id: str, track: int) -> Response:
    """A face track's aligned crop: the classifier's input for the track's most suspicious face
    (``tracks[].face``), which that face's heat map covers."""

    def key(result: DetectionResult) -> str | None:
        found = next((t for t in result.tracks if t.track == track and t.crop), None)
        return face_key(result.id, track) if found else None

    missing = ("face_not_found", f"no stored crop of face {track} of {result_id!r}")
    return _picture(services, caller, result_id, key, missing)


def _picture(
    services: Services,
    caller: Caller,
    result_id: str,
    key_of: Callable[[DetectionResult], str | None],
    missing: tuple[str, str],
) -> Response:
    """A stored picture of the caller's own result; 404 with ``missing`` (code, message) when the
    result, the picture or its file does not exist, and for another owner's result alike."""
    result = services.results.get(result_id)
    key = key_of(result) if result is not None and caller.owns(result) else None
    if not key:
        raise client_error(404, *missing)
    try:
        data = services.media.get(key)
    except KeyError as exc:
        raise client_error(404, *missing) from exc
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=86400"})


@router.post(
    "/v1/results/{result_id}/feedback",
    tags=["results"],
    responses=error_responses(400, 401, 403, 404, 409, 413),
)
def post_feedback(
    services: ServicesDep, caller: CallerDep, result_id: str, body: FeedbackRequest
) -> Feedback:
    """A reviewer's label for a scanned file; labelled files train the next model.
    Posting again replaces the label. Only members of the reviewers group may label (in the
    cloud the token's ``cognito:groups``); the reviewer recorded is the caller."""
    if services.feedback is None:
        raise client_error(404, "not_available", "this deployment does not store feedback")
    if not caller.is_reviewer:
        raise client_error(
            403, "not_a_reviewer", f"only members of the {caller.reviewers_group!r} group may label results"
        )
    result = owned_result(services, caller, result_id)
    media_key = result.source.get("key")
    if result.status is not Status.DONE or not media_key:
        raise client_error(
            409,
            "result_not_done",
            f"result {result_id!r} is {result.status.value}: only a finished scan "
            "of a stored file can be labelled",
            result_id,
        )
    feedback = Feedback(
        result_id=result_id,
        label=body.label,
        reviewer=caller.name,
        note=body.note,
        media_key=media_key,
        path=result.path,
        model_version=result.model.version if result.model else None,
        score=result.score,
    )
    previous = services.feedback.get(result_id) if services.review_metrics is not None else None
    services.feedback.put(feedback)
    if services.review_metrics is not None:
        try:
            services.review_metrics.record(result, feedback, previous)
        except Exception:  # a metric is never worth failing a stored label for
            logger.exception("the label of %s was stored but its metrics were not", result_id)
    return feedback
