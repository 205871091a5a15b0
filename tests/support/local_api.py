"""The local app under Starlette's TestClient, as the service tests use it."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from deepfake_detect.api.services import Services

# The Host the local service accepts (TrustedHost): TestClient's default "testserver" is refused.
LOCAL_URL = "http://127.0.0.1"


def services_of(client: TestClient) -> Services:
    services: Services = client.app.state.services  # type: ignore[attr-defined]
    return services


def upload(client: TestClient, name: str, data: bytes) -> dict[str, Any]:
    """POST an image to /v1/detect and return its finished result."""
    response = client.post("/v1/detect", files={"file": (name, data, "image/jpeg")})
    assert response.status_code == 200, response.text[:300]
    body: dict[str, Any] = response.json()
    return body
