"""Accuracy over time (``GET /v1/stats``): per model version and ISO week, the caller's results, the
share called fake, and how the reviewers' labels compare with the verdicts (``registry.accuracy``
has the definitions). The page's "Model accuracy over time" panel shows it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from deepfake_detect.api.deps import CallerDep, ServicesDep, client_error, error_responses
from deepfake_detect.registry.accuracy import DEFAULT_WEEKS, MAX_WEEKS, AccuracyReport, accuracy_report

router = APIRouter()


@router.get("/v1/stats", tags=["stats"], responses=error_responses(401, 404))
def get_stats(
    services: ServicesDep,
    caller: CallerDep,
    weeks: Annotated[
        int,
        Query(
            ge=1,
            le=MAX_WEEKS,
            description=f"ISO weeks to cover, the current one included (at most {MAX_WEEKS})",
        ),
    ] = DEFAULT_WEEKS,
) -> AccuracyReport:
    """Accuracy over time: for each model version and ISO week (of the results' creation, UTC) of
    the caller's results, newest week first: `results` (finished: done or failed), `done`, `fake`
    and `fake_rate` (fake / done), `labels` (results a reviewer labelled), `agreed` (label equal to
    the verdict), `overturned` (labels - agreed), `false_positives` (verdict fake, label real),
    `misses` (verdict real, label fake) and `agreement` (agreed / labels). A label counts in the week
    of the result it labels. Locally every result is the one local owner's; in the cloud a report
    reads at most the newest `limit` results of the range (`truncated` says when the range held
    more). 404 `not_available` where the deployment keeps no such report."""
    if services.accuracy is None:
        raise client_error(404, "not_available", "this deployment keeps no accuracy report")
    return accuracy_report(services.accuracy, owner=caller.owner, weeks=weeks)
