"""Schemathesis over the local service's own OpenAPI document, against `deepfake-detect serve`:
requests generated from the schema (valid and invalid) never get a 5xx, and every answer is one
the schema documents (status code, content type, body, headers)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import CheckFunction
from schemathesis.specs.openapi.checks import positive_data_acceptance

from deepfake_detect.local.wiring import local_app
from deepfake_detect.settings import Settings
from tests.conftest import settings_as_env
from tests.support.serve import Server

pytestmark = pytest.mark.slow

# The document the server serves, built from the same code: the cases are generated when the
# tests are collected, before any server is up. (Schemathesis' ``pytest.from_fixture``, which
# would load it from the running server, fails on pytest 9: it sets ``request.node._nodeid``.)
DOCUMENT = local_app(Settings(_env_file=None, data_dir=Path("/nonexistent"))).openapi()  # type: ignore[call-arg]
schema = schemathesis.openapi.from_dict(DOCUMENT)

# Operations whose schema-valid requests are still refused (4xx) for reasons a schema cannot
# state, so the "valid data is accepted" check does not apply to them: an upload must be real
# media (random bytes are 415, no bytes 400), a page token must be one the service handed out,
# an export's since must come before its until.
SCHEMA_VALID_BUT_REFUSED = {("POST", "/v1/detect"), ("GET", "/v1/results"), ("GET", "/v1/results/export")}


@pytest.fixture(scope="module")
def server(base_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("schema")
    local = base_settings.model_copy(update={"data_dir": root / "var"})
    running = Server(local, {**os.environ, **settings_as_env(local)}, root / "serve.log")
    try:
        yield running
    finally:
        running.stop()


@schema.parametrize()
@settings(
    max_examples=15,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_the_api_keeps_to_its_schema(case: schemathesis.Case[Any], server: Server) -> None:
    excluded: list[CheckFunction] = []
    if (case.method, case.path) in SCHEMA_VALID_BUT_REFUSED:
        excluded.append(positive_data_acceptance)
    case.call_and_validate(base_url=server.url, excluded_checks=excluded)


def test_the_server_serves_the_document_tested(server: Server) -> None:
    assert httpx.get(f"{server.url}/openapi.json", timeout=10).json() == DOCUMENT
