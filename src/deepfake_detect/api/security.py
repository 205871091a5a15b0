"""What stands between the network and the routes: body size limits, Host and Origin checks,
security headers, and error answers that never leak internals.

All of it is plain ASGI middleware, so it acts before FastAPI reads a byte of the body:

- ``BodyLimit``: a request whose ``Content-Length`` is over its route's limit is answered 413 at
  once, unread; a body without one (chunked) is counted as it streams in and cut off with 413 as
  soon as it passes the limit. The upload route's limit is ``limits.max_upload_bytes`` plus room
  for the multipart framing; every other route takes at most ``MAX_REQUEST_BYTES``.
- ``SameOrigin`` (local service): a state-changing request (POST, PUT, PATCH, DELETE) sent by a
  browser from another site is refused (403 ``cross_origin``); browsers always send ``Origin``
  with such requests, so a request without one is a non-browser client and is let through.
- ``trusted_hosts`` for Starlette's ``TrustedHostMiddleware`` (local service): only loopback
  names, the address the service listens on and ``service.extra_hosts`` (DNS rebinding).
- ``SecurityHeaders``: ``nosniff`` and ``no-referrer`` on every answer, a Content Security Policy
  (``frame-ancestors 'none'``) and ``X-Frame-Options: DENY`` on the page.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from starlette.datastructures import URL, Headers, MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from deepfake_detect.api.deps import error_body
from deepfake_detect.core.errors import ErrorCode

log = logging.getLogger(__name__)

UPLOAD_PATH = "/v1/detect"
# Multipart framing around the file: boundaries and part headers (a 255-character file name and
# its percent-encoding fit many times over).
MULTIPART_OVERHEAD_BYTES = 64 * 1024
# Every other request carries at most a small JSON document.
MAX_REQUEST_BYTES = 1024 * 1024
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
_WILDCARD_ADDRESSES = {"", "0.0.0.0", "::", "[::]", "*"}
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

# The page: scripts, styles and data only from this origin; images also from blob: and data:
# (previews, the heat map); never framed. The cloud page uploads to a presigned bucket URL.
_PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
    "connect-src {connect}; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)
PAGE_POLICY_LOCAL = _PAGE_POLICY.format(connect="'self'")
PAGE_POLICY_CLOUD = _PAGE_POLICY.format(connect="'self' https: http://127.0.0.1:* http://localhost:*")
PAGE_PATHS = frozenset({"/", "/index.html"})


class RequestTooLarge(HTTPException):
    """Raised from ``receive`` when a streamed body passes its limit. An ``HTTPException``, so
    FastAPI's body parsing lets it through (it turns anything else into a 400) and the app's
    exception handler answers it; ``BodyLimit`` answers it if it escapes."""

    def __init__(self, path: str, limit: int) -> None:
        if path == UPLOAD_PATH:
            body = error_body(
                ErrorCode.FILE_TOO_LARGE,
                f"the upload is larger than the limit of {limit - MULTIPART_OVERHEAD_BYTES} bytes",
            )
        else:
            body = error_body("request_too_large", f"the request body is larger than {limit} bytes")
        super().__init__(status_code=413, detail=body, headers={"Connection": "close"})


class BodyLimit:
    """Refuse a request body over its limit before reading it (``Content-Length``) or while
    reading it (chunked, or a client that sends more than it declared)."""

    def __init__(self, app: ASGIApp, limit_for: Callable[[str], int]) -> None:
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        limit = self.limit_for(path)
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _answer(RequestTooLarge(path, limit), scope, receive, send)
            return

        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise RequestTooLarge(path, limit)
            return message

        started = False

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, watched_send)
        except RequestTooLarge as exc:
            if started:
                raise
            await _answer(exc, scope, receive, send)


class SameOrigin:
    """403 for a state-changing browser request from another origin (CSRF, DNS rebinding)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in UNSAFE_METHODS:
            origin = Headers(scope=scope).get("origin")
            if origin is not None and not _same_origin(origin, scope):
                refusal = JSONResponse(
                    {
                        "detail": error_body(
                            "cross_origin",
                            "requests from another site's page are refused: use this service's own page",
                        )
                    },
                    status_code=403,
                )
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)


class SecurityHeaders:
    """Headers every answer carries, and the page's Content Security Policy."""

    def __init__(self, app: ASGIApp, page_policy: str) -> None:
        self.app = app
        self.page_policy = page_policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        page = scope["path"] in PAGE_PATHS

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "no-referrer")
                if page:
                    headers.setdefault("Content-Security-Policy", self.page_policy)
                    headers.setdefault("X-Frame-Options", "DENY")
            await send(message)

        await self.app(scope, receive, with_headers)


def trusted_hosts(listen_host: str, extra: Iterable[str]) -> list[str]:
    """The Host names the local service answers: loopback, the address it listens on (unless it
    listens everywhere: then only what ``extra`` names) and ``extra``."""
    hosts = list(LOOPBACK_HOSTS)
    listen = listen_host.strip().lower().strip("[]")
    if listen not in _WILDCARD_ADDRESSES:
        hosts.append(listen)
    hosts.extend(h.strip().lower().strip("[]") for h in extra if h.strip())
    # A Host header writes an IPv6 address in brackets ("[::1]:8000"), and Starlette keeps them.
    bracketed = [f"[{h}]" for h in hosts if ":" in h]
    return list(dict.fromkeys(hosts + bracketed))


def install_error_handlers(app: FastAPI) -> None:
    """Every error answer in one shape, ``{"detail": {"code", "message", "result_id"}}``: FastAPI's
    and Starlette's own (a body that does not parse, an unknown path: their text becomes the
    message); a too-deep structure (a nested page token, JSON) is the client's (400); anything
    else is ours (500), answered without the exception's text, which can name files and folders
    of the machine (the log has the traceback). FastAPI's 422 keeps its list of field errors."""

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        headers = exc.headers
        if exc.status_code == 405:  # Starlette names only the first route of the path
            declared = (headers or {}).get("Allow", "")
            headers = {
                **(headers or {}),
                "Allow": ", ".join(_allowed_methods(app, request.url.path, declared)),
            }
        if exc.status_code < 200 or exc.status_code in (204, 205, 304):
            return Response(status_code=exc.status_code, headers=headers)
        detail: Any = exc.detail
        if not isinstance(detail, dict):
            code = HTTPStatus(exc.status_code).phrase.lower().replace(" ", "_").replace("-", "_")
            detail = error_body(code, str(detail))
        return JSONResponse({"detail": detail}, status_code=exc.status_code, headers=headers)

    async def too_deep(request: Request, exc: Exception) -> JSONResponse:
        body = error_body("too_deeply_nested", "the request nests too deeply to be read")
        return JSONResponse({"detail": body}, status_code=400)

    async def internal(request: Request, exc: Exception) -> JSONResponse:
        body = error_body(
            ErrorCode.INTERNAL_ERROR,
            f"the service failed on this request ({type(exc).__name__}); the details are in its log",
        )
        return JSONResponse({"detail": body}, status_code=500)

    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RecursionError, too_deep)
    app.add_exception_handler(Exception, internal)


_HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def _allowed_methods(app: FastAPI, path: str, declared: str) -> list[str]:
    """Every method the API documents for this path (``GET`` and ``DELETE`` of one result are two
    routes, and Starlette's 405 names the first one's only), with those Starlette named. A path
    documented as it is (``/v1/results/export``) answers for itself, not for a template it also
    matches (``/v1/results/{result_id}``)."""
    methods = {m.strip() for m in declared.split(",") if m.strip()}
    paths = app.openapi().get("paths", {})
    if path in paths:
        return sorted({m.upper() for m in paths[path] if m.upper() in _HTTP_METHODS})
    for template, operations in paths.items():
        if compile_path(template)[0].match(path):
            methods |= {m.upper() for m in operations if m.upper() in _HTTP_METHODS}
    return sorted(methods)


async def _answer(error: RequestTooLarge, scope: Scope, receive: Receive, send: Send) -> None:
    response = JSONResponse({"detail": error.detail}, status_code=error.status_code, headers=error.headers)
    await response(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    value = Headers(scope=scope).get("content-length")
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None


def _origin_key(scheme: str, host: str | None, port: int | None) -> tuple[str, str, int | None]:
    scheme = scheme.lower()
    default = {"http": 80, "https": 443}.get(scheme)
    return scheme, (host or "").lower().strip("[]"), port if port is not None else default


def _same_origin(origin: str, scope: Scope) -> bool:
    """Whether ``Origin`` names the origin this request was sent to (its scheme and Host)."""
    try:
        sent = urlsplit(origin)
        own = URL(scope=scope)
        return _origin_key(sent.scheme, sent.hostname, sent.port) == _origin_key(
            own.scheme, own.hostname, own.port
        )
    except ValueError:  # "null", a port that is not a number
        return False
