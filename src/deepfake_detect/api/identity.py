"""Who is calling: the owner of what they upload and see, and whether they may label results.

In the cloud, API Gateway's JWT authorizer has already checked the token (signature, issuer,
audience, expiry) before the request reaches the function; its claims arrive in the Lambda event
under ``requestContext.authorizer.jwt.claims``, which Mangum hands the app as ``scope["aws.event"]``.
The caller's id is the token's ``sub``, their name its ``email`` (or user name), their groups
``cognito:groups`` (HTTP APIs pass a list claim as one string, ``"[reviewers admins]"``).

The local service has no sign-in: every request is the one local owner, who may also label.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import HTTPConnection

from deepfake_detect.core.result import DetectionResult
from deepfake_detect.store.base import LOCAL_OWNER, owner_of

REVIEWERS_GROUP = "reviewers"
# The claims naming a person, in order of preference (ID tokens carry email and cognito:username,
# access tokens username).
_NAME_CLAIMS = ("email", "cognito:username", "username")


@dataclass(frozen=True)
class Caller:
    owner: str  # what the caller's records carry in ``owner``
    name: str  # recorded as the reviewer of a label
    groups: frozenset[str] = field(default_factory=frozenset)
    reviewers_group: str = REVIEWERS_GROUP

    @property
    def is_reviewer(self) -> bool:
        return self.reviewers_group in self.groups

    def owns(self, result: DetectionResult) -> bool:
        return owner_of(result) == self.owner


LOCAL_CALLER = Caller(owner=LOCAL_OWNER, name=LOCAL_OWNER, groups=frozenset({REVIEWERS_GROUP}))

# How a deployment tells who is calling; None means nobody we know (answered 401).
Identify = Callable[[HTTPConnection], Caller | None]


def local_caller(connection: HTTPConnection) -> Caller:
    """The local service: one owner, who may do everything."""
    return LOCAL_CALLER


def jwt_claims(scope: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The verified token's claims in the Lambda event behind the request, if there is one."""
    event = scope.get("aws.event")
    if not isinstance(event, Mapping):
        return None
    claims: Any = event
    for step in ("requestContext", "authorizer", "jwt", "claims"):
        claims = claims.get(step) if isinstance(claims, Mapping) else None
    return claims if isinstance(claims, Mapping) else None


def parse_groups(value: Any) -> frozenset[str]:
    """``cognito:groups`` as it arrives: a list, a JSON list, or API Gateway's "[a b]" string."""
    if isinstance(value, list | tuple):
        return frozenset(str(v) for v in value if str(v))
    if not isinstance(value, str):
        return frozenset()
    text = value.strip()
    if text.startswith("["):
        try:
            decoded = json.loads(text)
        except ValueError:
            text = text[1:-1] if text.endswith("]") else text[1:]
        else:
            if isinstance(decoded, list):
                return frozenset(str(v) for v in decoded if str(v))
    return frozenset(part for part in text.replace(",", " ").split() if part)


def caller_from_claims(
    claims: Mapping[str, Any] | None, reviewers_group: str = REVIEWERS_GROUP
) -> Caller | None:
    """The caller a token names; None without a usable ``sub``."""
    if not claims:
        return None
    sub = claims.get("sub")
    # A Cognito sub is a UUID: never empty, never the local owner's name.
    if not isinstance(sub, str) or not sub.strip() or sub == LOCAL_OWNER:
        return None
    name = next((str(claims[c]) for c in _NAME_CLAIMS if isinstance(claims.get(c), str) and claims[c]), sub)
    return Caller(
        owner=sub,
        name=name[:200],
        groups=parse_groups(claims.get("cognito:groups")),
        reviewers_group=reviewers_group,
    )


def jwt_identity(reviewers_group: str = REVIEWERS_GROUP) -> Identify:
    """The cloud API's caller: the JWT authorizer's claims, or nobody."""

    def identify(connection: HTTPConnection) -> Caller | None:
        return caller_from_claims(jwt_claims(connection.scope), reviewers_group)

    return identify
