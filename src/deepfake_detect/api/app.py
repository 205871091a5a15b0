"""FastAPI app: the routers the mode serves (results, model and health always; scanning uploads
in-process locally, presigned uploads in the cloud), and the web page."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Literal

from fastapi import FastAPI
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.middleware.trustedhost import TrustedHostMiddleware

from deepfake_detect import __version__
from deepfake_detect.api import limits, security
from deepfake_detect.api.deps import install_storage_handlers
from deepfake_detect.api.routes import detect, events, export, report, results, service, stats, uploads
from deepfake_detect.api.services import Services
from deepfake_detect.settings import Settings, get_settings

STATIC_DIR = Path(__file__).parent / "static"

Mode = Literal["local", "cloud"]


def create_app(
    settings: Settings | None,
    services: Services | Callable[[Settings], Services],
    mode: Mode | None = None,
) -> FastAPI:
    """The app over ``services``, or over what ``services(settings)`` builds when the app starts
    (the local wiring opens its stores and starts its worker then, not at import). ``mode`` picks
    the routers, so the OpenAPI document lists exactly what this deployment serves; it defaults
    to the mode of a ``Services`` given directly."""
    settings = settings or get_settings()
    if mode is None:
        if not isinstance(services, Services):
            raise ValueError("create_app needs a mode when it is given a services factory")
        mode = "local" if services.mode == "local" else "cloud"

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.services = services if isinstance(services, Services) else services(settings)
        processor = app.state.services.processor
        if processor is not None:
            processor.start()
        for task in app.state.services.background:  # local retention
            task.start()
        yield
        for task in app.state.services.background:
            task.shutdown()
        if processor is not None:
            processor.shutdown()

    app = FastAPI(
        title="deepfake-detect",
        version=__version__,
        description="Find every face in an image or video and score it for signs of manipulation.",
        lifespan=lifespan,
    )
    if isinstance(services, Services):
        app.state.services = services
    _secure(app, settings, mode)
    app.include_router(service.router)
    app.include_router(detect.router if mode == "local" else uploads.router)
    app.include_router(export.router)  # before results: /v1/results/export is not a result id
    app.include_router(results.router)
    app.include_router(report.router)  # reviewers' labels for the history and the report
    app.include_router(stats.router)  # accuracy over time: verdicts against reviewers' labels
    if mode == "local":
        app.include_router(events.router)  # the local webhook's delivery attempts
    events.document_events(app)  # the Scan Completed event, in both modes

    if STATIC_DIR.is_dir() and (STATIC_DIR / "index.html").is_file():
        app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

        @app.get("/", include_in_schema=False)
        def index() -> FileResponse:
            return FileResponse(STATIC_DIR / "index.html")
    else:

        @app.get("/", include_in_schema=False)
        def docs_redirect() -> RedirectResponse:
            return RedirectResponse("/docs")

    return app


def _secure(app: FastAPI, settings: Settings, mode: Mode) -> None:
    """The middleware between the network and the routes (``api.security``), outermost first:
    security headers, then (local service) the Host and Origin checks, then the body limit."""
    upload_limit = settings.limits.max_upload_bytes + security.MULTIPART_OVERHEAD_BYTES

    def limit_for(path: str) -> int:
        if mode == "local" and path == security.UPLOAD_PATH:
            return upload_limit
        return security.MAX_REQUEST_BYTES

    app.add_middleware(security.BodyLimit, limit_for=limit_for)
    if mode == "local":
        # The cloud API sits behind API Gateway and its JWT authorizer: no ambient credentials
        # to forge a request with, and a Host that API Gateway sets.
        app.add_middleware(security.SameOrigin)
        app.add_middleware(
            TrustedHostMiddleware,
            allowed_hosts=security.trusted_hosts(settings.service.host, settings.service.extra_hosts),
        )
    page_policy = security.PAGE_POLICY_LOCAL if mode == "local" else security.PAGE_POLICY_CLOUD
    app.add_middleware(security.SecurityHeaders, page_policy=page_policy)
    security.install_error_handlers(app)
    limits.install(app)  # outermost: one body framing (400, closed); a 422 echoes capped input
    install_storage_handlers(app, settings.service.storage_retry_after_s)
