"""Request framing and error-size guards of the API (issue 24, item 4).

- ``OneFraming``: a request that carries both ``Content-Length`` and ``Transfer-Encoding`` says
  two different things about where its body ends; a proxy in front may believe one and this
  server the other (request smuggling). It is refused, ``400 ambiguous_framing``, and the
  connection closed (``Connection: close``), before a byte of its body is read.
- ``capped_validation_errors``: a 422 lists the fields that failed with the input each had; an
  input is echoed at most ``MAX_ECHO_CHARS`` characters (a 1 MB form field no longer makes a
  6 MB answer), with the location and message of each error kept.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from deepfake_detect.api.deps import error_body

MAX_ECHO_CHARS = 200
MAX_ECHO_ITEMS = 20  # of a list or an object echoed as input


class OneFraming:
    """Refuses a request with both ``Content-Length`` and ``Transfer-Encoding`` (400, closed)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = Headers(scope=scope)
            if "content-length" in headers and "transfer-encoding" in headers:
                body = error_body(
                    "ambiguous_framing",
                    "the request has both Content-Length and Transfer-Encoding; send one of them",
                )
                answer = JSONResponse({"detail": body}, status_code=400, headers={"Connection": "close"})
                await answer(scope, receive, send)
                return
        await self.app(scope, receive, send)


def capped(value: Any, chars: int = MAX_ECHO_CHARS) -> Any:
    """``value`` with every string cut to ``chars`` characters (and "…"), bytes read as text, and
    lists and objects to their first ``MAX_ECHO_ITEMS`` entries."""
    if isinstance(value, bytes | bytearray):
        value = bytes(value[: chars * 4]).decode("utf-8", "replace")
    if isinstance(value, str):
        return value if len(value) <= chars else value[:chars] + "…"
    if isinstance(value, dict):
        return {capped(str(k), chars): capped(v, chars) for k, v in list(value.items())[:MAX_ECHO_ITEMS]}
    if isinstance(value, list | tuple):
        return [capped(v, chars) for v in list(value)[:MAX_ECHO_ITEMS]]
    return value


async def capped_validation_errors(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's 422 (its list of errors: ``type``, ``loc``, ``msg``, ``input``), inputs capped."""
    assert isinstance(exc, RequestValidationError)
    errors = []
    for error in exc.errors():
        error = dict(error)
        if "input" in error:
            error["input"] = capped(error["input"])
        if "ctx" in error:
            error["ctx"] = capped(error["ctx"])
        errors.append(error)
    return JSONResponse({"detail": jsonable_encoder(errors)}, status_code=422)


def install(app: FastAPI) -> None:
    """The framing check (outermost) and the capped 422."""
    app.add_middleware(OneFraming)
    app.add_exception_handler(RequestValidationError, capped_validation_errors)
