"""What a shared report and the reviewer's side of the page read besides the result itself: the
reviewers' labels of a set of results (``GET /v1/feedback``), for the history's "reviewed" tags
and the report's "Reviewer's label" line. Labels are given with ``POST /v1/results/{id}/feedback``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from deepfake_detect.api.deps import CallerDep, ServicesDep, client_error, error_responses
from deepfake_detect.registry.feedback import Label

router = APIRouter()

# One page of the history is at most 100 results (GET /v1/results?limit=100).
MAX_RESULT_IDS = 100


class ReviewLabel(BaseModel):
    """A reviewer's label as the page shows it (the stored copy's media key and scores stay inside)."""

    result_id: str
    label: Label = Field(description="what the reviewer says the file is")
    reviewer: str = Field(description="who labelled it: the signed-in user in the cloud, 'local' locally")
    note: str
    created_at: datetime = Field(description="when it was labelled (the latest label replaces earlier ones)")


class ReviewLabels(BaseModel):
    items: list[ReviewLabel] = Field(description="one per result that has a label, in the order asked")


@router.get("/v1/feedback", tags=["results"], responses=error_responses(401, 404))
def list_feedback(
    services: ServicesDep,
    caller: CallerDep,
    result_id: Annotated[
        list[str],
        Query(
            min_length=1,
            max_length=MAX_RESULT_IDS,
            description="a result's id; repeat the parameter for several (at most 100)",
        ),
    ],
) -> ReviewLabels:
    """The reviewers' labels of the caller's results among these. Results without a label, and ids
    that name no result of the caller's (none at all, or another owner's), are left out; 404
    ``not_available`` where the deployment stores no feedback."""
    if services.feedback is None:
        raise client_error(404, "not_available", "this deployment does not store feedback")
    items = []
    for wanted in dict.fromkeys(result_id):  # each once, in the order asked
        result = services.results.get(wanted)
        if result is None or not caller.owns(result):
            continue
        feedback = services.feedback.get(wanted)
        if feedback is not None:
            items.append(
                ReviewLabel(
                    result_id=feedback.result_id,
                    label=feedback.label,
                    reviewer=feedback.reviewer,
                    note=feedback.note,
                    created_at=feedback.created_at,
                )
            )
    return ReviewLabels(items=items)
