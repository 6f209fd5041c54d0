"""schemathesis against the web verifier's own OpenAPI document: generated requests to every operation on a
real workspace and node; no answer is a 5xx, and every answer matches the document (status, type, body)."""

from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from credanchor.web.app import create_app
from credanchor.web.settings import WebSettings
from tests.e2e.conftest import WebWorld

pytestmark = pytest.mark.chain
CHECKS: list[Callable[..., Any]] = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def web_app(web_world: WebWorld) -> Any:
    return create_app(WebSettings(workspace=str(web_world.ws.root)))


@pytest.mark.parametrize("path", ["/api/v1/verify", "/api/v1/recipient", "/credentials/verify"])
def test_api_conforms_to_its_openapi_document(web_app: Any, path: str) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", web_app)
    operation = schema[path]["POST"]

    @given(case=operation.as_strategy())
    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def call(case: Any) -> None:
        case.call_and_validate(checks=CHECKS)

    call()


def test_every_operation_is_fuzzed(web_app: Any) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", web_app)
    assert sorted(result.ok().path for result in schema.get_all_operations() if isinstance(result, Ok)) == [
        "/api/v1/recipient",
        "/api/v1/verify",
        "/credentials/verify",
    ]
