"""The cloud API as Lambda runs it: API Gateway HTTP API (payload 2.0) events, with the JWT
authorizer's claims in ``requestContext.authorizer.jwt.claims``, through Mangum into the app.

``LambdaApi(app).as_user(claims)`` is a small client whose calls build such events; ``claims=None``
builds an event without an authorizer (a route the authorizer does not cover)."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from mangum import Mangum


def user_claims(sub: str, email: str = "", groups: str | None = None) -> dict[str, str]:
    """Claims as the HTTP API's JWT authorizer passes them: every value a string, a list claim
    such as ``cognito:groups`` as ``"[a b]"``."""
    claims = {
        "sub": sub,
        "email": email or f"{sub}@example.com",
        "iss": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_example",
        "token_use": "id",
    }
    if groups is not None:
        claims["cognito:groups"] = groups
    return claims


def http_event(
    method: str,
    path: str,
    claims: dict[str, Any] | None,
    *,
    query: dict[str, Any] | None = None,
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    request_context: dict[str, Any] = {
        "accountId": "123456789012",
        "apiId": "api-id",
        "domainName": "api-id.execute-api.us-east-1.amazonaws.com",
        "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "192.0.2.1"},
        "requestId": "request-id",
        "routeKey": "ANY /{proxy+}",
        "stage": "$default",
    }
    if claims is not None:
        request_context["authorizer"] = {"jwt": {"claims": claims, "scopes": None}}
    headers = {
        "host": "api-id.execute-api.us-east-1.amazonaws.com",
        "authorization": "Bearer x",
        **{name.lower(): value for name, value in (headers or {}).items()},
    }
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "ANY /{proxy+}",
        "rawPath": path,
        "rawQueryString": urlencode(query or {}),
        "headers": headers,
        "requestContext": request_context,
        "isBase64Encoded": False,
    }
    if body is not None:
        headers["content-type"] = "application/json"
        event["body"] = json.dumps(body)
    return event


@dataclass
class LambdaResponse:
    status_code: int
    headers: dict[str, str]
    content: bytes

    def json(self) -> Any:
        return json.loads(self.content)


class _Context:
    function_name = "api"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:api"
    aws_request_id = "request-id"

    def get_remaining_time_in_millis(self) -> int:
        return 29_000


def invoke_in_own_thread(handler: Any, event: dict[str, Any], context: Any) -> dict[str, Any]:
    """One invocation as Lambda runs it: a thread whose event loop is Mangum's alone. Calling
    Mangum from the test's thread fails once another library (Playwright's sync API, used by
    the browser tests earlier in the session) keeps an event loop running there."""

    def run() -> dict[str, Any]:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            answer: dict[str, Any] = handler(event, context)
            return answer
        finally:
            loop.close()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(run).result()


class LambdaApi:
    def __init__(self, app: Any) -> None:
        self._mangum = Mangum(app, lifespan="off")

    def handler(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        return invoke_in_own_thread(self._mangum, event, context)

    def as_user(self, claims: dict[str, Any] | None) -> LambdaClient:
        return LambdaClient(self.handler, claims)


@dataclass
class LambdaClient:
    handler: Callable[[dict[str, Any], Any], dict[str, Any]]
    claims: dict[str, Any] | None

    def request(self, method: str, path: str, **kwargs: Any) -> LambdaResponse:
        answer = self.handler(http_event(method, path, self.claims, **kwargs), _Context())
        body = answer.get("body") or ""
        content = base64.b64decode(body) if answer.get("isBase64Encoded") else body.encode()
        return LambdaResponse(answer["statusCode"], dict(answer.get("headers") or {}), content)

    def get(self, path: str, **kwargs: Any) -> LambdaResponse:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> LambdaResponse:
        return self.request("POST", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> LambdaResponse:
        return self.request("DELETE", path, **kwargs)
