"""The OpenAPI document lists exactly what each mode serves."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from deepfake_detect.api.app import create_app
from deepfake_detect.api.services import Services
from deepfake_detect.core.model_card import ModelCard
from deepfake_detect.local.stores import LocalMediaStore, SQLiteResultStore
from deepfake_detect.settings import Settings


class Signer:
    def presign(
        self,
        filename: str,
        content_type: str,
        owner: str,
        *,
        size: int | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        return {"url": "http://127.0.0.1:1/bucket", "fields": {"key": filename}}


def _paths(app: Any) -> set[str]:
    with TestClient(app, base_url="http://127.0.0.1") as client:
        return set(client.get("/openapi.json").json()["paths"])


def test_cloud_mode_serves_presigned_uploads_and_no_in_process_scan(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    services = Services(
        settings=settings,
        media=LocalMediaStore(tmp_path / "media"),
        results=SQLiteResultStore(tmp_path / "results.sqlite3"),
        model_card=lambda: ModelCard(name="m", version="1"),
        uploads=Signer(),
    )
    paths = _paths(create_app(settings, services))
    assert "/v1/uploads" in paths and "/v1/detect" not in paths
    assert {"/v1/results", "/v1/results/{result_id}", "/v1/model", "/health"} <= paths


def test_local_mode_serves_in_process_scans_and_no_presigned_uploads(tmp_path: Path) -> None:
    from deepfake_detect.local.wiring import local_app

    paths = _paths(local_app(Settings(data_dir=tmp_path, models_dir=tmp_path / "none")))
    assert "/v1/detect" in paths and "/v1/uploads" not in paths


def test_a_services_factory_needs_a_mode(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="mode"):
        create_app(Settings(data_dir=tmp_path), lambda settings: None)  # type: ignore[arg-type,return-value]
