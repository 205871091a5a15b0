"""Liveness and the model card."""

from __future__ import annotations

from fastapi import APIRouter, status

from deepfake_detect import __version__
from deepfake_detect.api.deps import ServicesDep, client_error
from deepfake_detect.core.errors import ErrorCode
from deepfake_detect.core.model_card import ModelCard

router = APIRouter()


@router.get("/health", tags=["service"])
def health(services: ServicesDep) -> dict[str, str | int]:
    # The page reads mode (which upload path to use) and the size limit (to refuse early).
    return {
        "status": "ok",
        "mode": services.mode,
        "version": __version__,
        "max_upload_bytes": services.settings.limits.max_upload_bytes,
    }


@router.get("/v1/model", tags=["model"])
def model(services: ServicesDep) -> ModelCard:
    try:
        return services.model_card()
    except Exception as exc:  # the model file is missing or damaged: say so, do not 500
        raise client_error(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            ErrorCode.MODEL_ERROR,
            f"the model could not be loaded: {exc}",
        ) from exc
