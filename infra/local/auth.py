"""What API Gateway's JWT authorizer does, for the local stack's cloud API (loopback only, no
signature check): the claims of the bearer token reach the app where Mangum puts them in Lambda,
``scope["aws.event"]["requestContext"]["authorizer"]["jwt"]["claims"]``.

``Authorization: Bearer <token>`` with any JWT (its payload is read, not verified: this is a test
bench, never a deployment); no header is the stack's one user, a reviewer. ``dev_token`` makes a
token for another user, to try ownership by hand (``python -m infra.local token --sub bob``).
"""

from __future__ import annotations

import base64
import json
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

DEFAULT_CLAIMS = {"sub": "stack-user", "email": "stack-user@localhost", "cognito:groups": "[reviewers]"}


def dev_token(sub: str, email: str = "", groups: tuple[str, ...] = ()) -> str:
    """An unsigned JWT carrying these claims (the local stack reads, never verifies, it)."""

    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    claims: dict[str, Any] = {"sub": sub, "email": email or f"{sub}@localhost"}
    if groups:
        claims["cognito:groups"] = f"[{' '.join(groups)}]"  # as HTTP APIs pass a list claim
    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


def token_claims(authorization: str) -> dict[str, Any] | None:
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or token.count(".") != 2:
        return None
    payload = token.split(".")[1]
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except ValueError:
        return None
    return (
        {k: v if isinstance(v, str) else json.dumps(v) for k, v in claims.items()}
        if isinstance(claims, dict)
        else None
    )


class DevJwtAuthorizer:
    def __init__(self, app: ASGIApp, default_claims: dict[str, str] | None = None) -> None:
        self.app = app
        self.default_claims = DEFAULT_CLAIMS if default_claims is None else default_claims

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = {k.decode().lower(): v.decode() for k, v in scope.get("headers", [])}
            header = headers.get("authorization")
            claims = token_claims(header) if header else dict(self.default_claims)
            if claims is not None:
                event = {"version": "2.0", "requestContext": {"authorizer": {"jwt": {"claims": claims}}}}
                scope = {**scope, "aws.event": event}
        await self.app(scope, receive, send)
