"""Fixtures of the service tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from deepfake_detect.local.wiring import local_app
from deepfake_detect.settings import Settings
from tests.support.local_api import LOCAL_URL


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    """The local app over the test's settings, started and stopped around the test."""
    with TestClient(local_app(settings), base_url=LOCAL_URL) as test_client:
        yield test_client
