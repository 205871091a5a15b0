"""HTTP helpers for API tests against TestClient or a live server (both speak httpx)."""

from __future__ import annotations

import time
from typing import Any

import httpx

FINISHED = {"done", "failed"}


def wait_for_result(client: httpx.Client, result_id: str, timeout_s: float = 60.0) -> dict[str, Any]:
    """Poll GET /v1/results/{id} until the scan is done or failed; returns the final record."""
    deadline = time.monotonic() + timeout_s
    seen: list[str] = []
    while True:
        response = client.get(f"/v1/results/{result_id}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        if not seen or seen[-1] != body["status"]:
            seen.append(body["status"])
        if body["status"] in FINISHED:
            body["_statuses_seen"] = seen
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"result {result_id} still {body['status']} after {timeout_s} s")
        time.sleep(0.05)


def error_body(response: httpx.Response) -> dict[str, Any]:
    """The {code, message, result_id} body of a 4xx/5xx answer."""
    body: dict[str, Any] = response.json()
    detail: dict[str, Any] = body.get("detail", body)
    return detail
