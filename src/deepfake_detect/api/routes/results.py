"""Results: the list, one result, its evidence image, and reviewers' labels."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from deepfake_detect.api.deps import ServicesDep, client_error, error_responses
from deepfake_detect.core.result import DetectionResult, Status
from deepfake_detect.registry.feedback import Feedback, Label

router = APIRouter()


class ResultPage(BaseModel):
    items: list[DetectionResult]
    next_token: str | None


class FeedbackRequest(BaseModel):
    label: Label = Field(description="what the reviewer says the file is")
    reviewer: str = Field("", max_length=200, description="who reviewed it (free text)")
    note: str = Field("", max_length=2000)


@router.get("/v1/results", tags=["results"], responses=error_responses(400))
def list_results(
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    token: Annotated[str | None, Query(description="next_token of the previous page")] = None,
) -> ResultPage:
    """Past results, newest first."""
    try:
        page = services.results.list(limit=limit, token=token)
    except (ValueError, RecursionError) as exc:  # RecursionError: a token of "[[[[...]]]]"
        message = "invalid page token: pass next_token as it was given"
        raise client_error(400, "invalid_token", message) from exc
    return ResultPage(items=page.items, next_token=page.next_token)


@router.get("/v1/results/{result_id}", tags=["results"], responses=error_responses(404))
def get_result(services: ServicesDep, result_id: str) -> DetectionResult:
    result = services.results.get(result_id)
    if result is None:
        raise client_error(404, "result_not_found", f"no result with id {result_id!r}")
    return result


@router.get(
    "/v1/results/{result_id}/evidence.jpg",
    tags=["results"],
    responses={200: {"content": {"image/jpeg": {}}}, **error_responses(404)},
)
def get_evidence(services: ServicesDep, result_id: str) -> Response:
    """The image, or the video's most suspicious frame, that the face boxes refer to."""
    result = services.results.get(result_id)
    key = result.evidence.key if result and result.evidence else None
    if not key:
        raise client_error(404, "evidence_not_found", f"no evidence image for {result_id!r}")
    try:
        data = services.media.get(key)
    except KeyError as exc:
        raise client_error(404, "evidence_not_found", f"no evidence image for {result_id!r}") from exc
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "max-age=86400"})


@router.post(
    "/v1/results/{result_id}/feedback",
    tags=["results"],
    responses=error_responses(400, 403, 404, 409, 413),
)
def post_feedback(services: ServicesDep, result_id: str, body: FeedbackRequest) -> Feedback:
    """A reviewer's label for a scanned file; labelled files train the next model.
    Posting again replaces the label."""
    if services.feedback is None:
        raise client_error(404, "not_available", "this deployment does not store feedback")
    result = services.results.get(result_id)
    if result is None:
        raise client_error(404, "result_not_found", f"no result with id {result_id!r}")
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
        reviewer=body.reviewer,
        note=body.note,
        media_key=media_key,
        path=result.path,
        model_version=result.model.version if result.model else None,
        score=result.score,
    )
    services.feedback.put(feedback)
    return feedback
