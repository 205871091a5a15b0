"""Images of hostile shapes through the local API: a clear 4xx with a code, never a 500."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.support.hostile import flat_png
from tests.support.http import error_body


@pytest.mark.parametrize(
    ("width", "height", "status", "code"),
    [
        (65_000, 1, 422, "bad_dimensions"),  # once a 500: the evidence resize rounded a side to 0
        (50_000_000, 1, 422, "bad_dimensions"),  # 48 KB
        (10_000, 5_000, 413, "too_many_pixels"),  # 50 MP from 48 KB
    ],
)
def test_hostile_shapes_are_refused_with_their_code(
    client: TestClient, width: int, height: int, status: int, code: str
) -> None:
    response = client.post("/v1/detect", files={"file": ("shape.png", flat_png(width, height), "image/png")})
    assert response.status_code == status, response.text[:300]
    assert error_body(response)["code"] == code
    assert client.get("/health").status_code == 200


def test_a_long_thin_picture_within_the_limits_is_scanned(client: TestClient) -> None:
    response = client.post("/v1/detect", files={"file": ("strip.png", flat_png(4000, 200), "image/png")})
    assert response.status_code == 200, response.text[:300]
    assert response.json()["verdict"] == "no_face"
