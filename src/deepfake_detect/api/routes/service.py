"""Liveness and the model card."""

from __future__ import annotations

from fastapi import APIRouter, status
from fastapi.responses import JSONResponse

from deepfake_detect import __version__
from deepfake_detect.api.deps import ServicesDep, client_error, error_responses
from deepfake_detect.core.errors import ErrorCode
from deepfake_detect.core.model_card import ModelCard

router = APIRouter()


@router.get("/health", tags=["service"])
def health(services: ServicesDep) -> dict[str, str | int | None]:
    """Liveness, always 200 while the service answers. ``status`` is ``degraded`` (and
    ``storage`` says why) when the local data folder has less free space than
    ``DEEPFAKE_SERVICE_MIN_FREE_BYTES`` or a probe file cannot be written there."""
    # The page reads mode (which upload path to use) and the size limit (to refuse early).
    answer: dict[str, str | int | None] = {
        "status": "ok",
        "mode": services.mode,
        "version": __version__,
        "max_upload_bytes": services.settings.limits.max_upload_bytes,
    }
    if services.storage_health is not None:
        storage = services.storage_health()
        answer["storage"] = "ok" if storage.ok else "degraded"
        answer["free_bytes"] = storage.free_bytes
        if not storage.ok:
            answer["status"] = "degraded"
            answer["storage_problem"] = storage.problem
    return answer


# HEAD for uptime checks: a GET's headers, no body (the server drops it). Not in the schema:
# HEAD is implied by GET there.
@router.head("/health", include_in_schema=False)
def health_head(services: ServicesDep) -> JSONResponse:
    return JSONResponse(health(services))


@router.get("/v1/model", tags=["model"], responses=error_responses(503))
def model(services: ServicesDep) -> ModelCard:
    try:
        return services.model_card()
    except Exception as exc:  # the model file is missing or damaged: say so, do not 500
        raise client_error(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            ErrorCode.MODEL_ERROR,
            f"the model could not be loaded: {exc}",
        ) from exc
