"""FastAPI app: upload and scan, results, model card, health, and the web page."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, File, HTTPException, Query, Request, UploadFile, status
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from deepfake_detect import __version__
from deepfake_detect.api.services import Services
from deepfake_detect.core.errors import ErrorCode
from deepfake_detect.core.formats import CONTENT_TYPES, sniff
from deepfake_detect.core.model_card import ModelCard
from deepfake_detect.core.result import DetectionResult, MediaKind, Status
from deepfake_detect.registry.feedback import Feedback, Label
from deepfake_detect.settings import Settings, get_settings

STATIC_DIR = Path(__file__).parent / "static"
# How long an image upload waits for its scan before answering 202 like a video.
IMAGE_WAIT_S = 60.0


class ResultPage(BaseModel):
    items: list[DetectionResult]
    next_token: str | None


class ErrorBody(BaseModel):
    code: str
    message: str
    result_id: str | None = None


class FeedbackRequest(BaseModel):
    label: Label = Field(description="what the reviewer says the file is")
    reviewer: str = Field("", max_length=200, description="who reviewed it (free text)")
    note: str = Field("", max_length=2000)


class UploadRequest(BaseModel):
    filename: str
    content_type: str


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def client_error(
    status_code: int, code: ErrorCode | str, message: str, result_id: str | None = None
) -> HTTPException:
    body = ErrorBody(code=str(code), message=message, result_id=result_id)
    return HTTPException(status_code=status_code, detail=body.model_dump())


# Which client mistake each failed scan reflects; anything else is our fault (500).
_ERROR_STATUS = {
    ErrorCode.EMPTY_FILE: status.HTTP_400_BAD_REQUEST,
    ErrorCode.FILE_TOO_LARGE: status.HTTP_413_CONTENT_TOO_LARGE,
    ErrorCode.UNSUPPORTED_TYPE: status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
    ErrorCode.CORRUPT_MEDIA: status.HTTP_422_UNPROCESSABLE_CONTENT,
    ErrorCode.TOO_MANY_PIXELS: status.HTTP_413_CONTENT_TOO_LARGE,
    ErrorCode.VIDEO_TOO_LONG: status.HTTP_413_CONTENT_TOO_LARGE,
}


def create_app(settings: Settings | None, services: Services | Callable[[Settings], Services]) -> FastAPI:
    """The app over ``services``, or over what ``services(settings)`` builds when the app starts
    (the local wiring opens its stores and starts its worker then, not at import)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.services = services if isinstance(services, Services) else services(settings)
        processor = app.state.services.processor
        if processor is not None:
            processor.start()
        yield
        if processor is not None:
            processor.shutdown()

    app = FastAPI(
        title="deepfake-detect",
        version=__version__,
        description="Find every face in an image or video and score it for signs of manipulation.",
        lifespan=lifespan,
    )
    if services is not None:
        app.state.services = services

    @app.get("/health", tags=["service"])
    def health(services: ServicesDep) -> dict[str, str | int]:
        # The page reads mode (which upload path to use) and the size limit (to refuse early).
        return {
            "status": "ok",
            "mode": services.mode,
            "version": __version__,
            "max_upload_bytes": services.settings.max_upload_bytes,
        }

    @app.get("/v1/model", tags=["model"])
    def model(services: ServicesDep) -> ModelCard:
        try:
            return services.model_card()
        except Exception as exc:  # the model file is missing or damaged: say so, do not 500
            raise client_error(
                status.HTTP_503_SERVICE_UNAVAILABLE,
                ErrorCode.MODEL_ERROR,
                f"the model could not be loaded: {exc}",
            ) from exc

    @app.post(
        "/v1/detect",
        tags=["detect"],
        status_code=status.HTTP_200_OK,
        responses={
            202: {"model": DetectionResult, "description": "a video, queued for scanning"},
            400: {"model": ErrorBody},
            413: {"model": ErrorBody},
            415: {"model": ErrorBody},
            422: {"model": ErrorBody},
        },
    )
    async def detect(
        services: ServicesDep, file: Annotated[UploadFile, File(description="an image or a video")]
    ) -> Response:
        """Upload a file and scan it. Images answer with the finished result; videos answer 202
        with a queued record to poll at ``GET /v1/results/{id}``."""
        if services.processor is None:
            raise client_error(
                status.HTTP_404_NOT_FOUND,
                "not_available",
                "this deployment scans files uploaded to the bucket: use POST /v1/uploads",
            )
        size = file.size if file.size is not None else _measure(file)
        if size == 0:
            raise client_error(400, ErrorCode.EMPTY_FILE, "the file is empty")
        limit = services.settings.max_upload_bytes
        if size > limit:
            raise client_error(
                413, ErrorCode.FILE_TOO_LARGE, f"the file is {size} bytes; the limit is {limit} bytes"
            )
        head = await file.read(64)
        await file.seek(0)
        kind, container = sniff(head)
        if container is None:
            raise client_error(
                415,
                ErrorCode.UNSUPPORTED_TYPE,
                "not a supported image (jpg, png, webp, bmp) or video (mp4, mov, avi, mkv, webm)",
            )
        result_id = uuid.uuid4().hex
        # The name is shown as given, but never used as a path: ".." or a 300-byte name
        # must not decide where the file lands.
        name = Path((file.filename or "").replace("\\", "/")).name[:255] or f"upload.{container}"
        key = f"uploads/{result_id}/upload.{container}"
        # Blocking work (disk copy, header probe, waiting for the scan) stays off the event loop.
        await run_in_threadpool(services.media.put, key, file.file, CONTENT_TYPES[container])
        record = DetectionResult(
            id=result_id,
            path=name,
            media_kind=kind,
            status=Status.QUEUED,
            source={"key": key, "store": "local"},
        )
        services.results.put(record)
        processor = services.processor
        refused = await run_in_threadpool(processor.precheck, record)
        if refused is not None:
            raise _failure(refused)
        future = processor.submit(result_id)
        if kind is MediaKind.VIDEO:
            return JSONResponse(record.model_dump(mode="json"), status_code=status.HTTP_202_ACCEPTED)
        done, _ = await asyncio.wait({asyncio.wrap_future(future)}, timeout=IMAGE_WAIT_S)
        if not done:
            return JSONResponse(record.model_dump(mode="json"), status_code=status.HTTP_202_ACCEPTED)
        result = future.result()
        if result is None:
            raise client_error(500, ErrorCode.INTERNAL_ERROR, "the result was lost", result_id)
        if result.error is not None:
            raise _failure(result)
        return JSONResponse(result.model_dump(mode="json"))

    @app.post("/v1/uploads", tags=["detect"])
    def create_upload(services: ServicesDep, request: UploadRequest) -> dict[str, Any]:
        """Cloud only: a presigned POST to upload one file straight to the bucket."""
        if services.uploads is None:
            raise client_error(
                status.HTTP_404_NOT_FOUND,
                "not_available",
                "this service scans uploads directly: use POST /v1/detect",
            )
        if request.content_type not in CONTENT_TYPES.values():
            raise client_error(
                415,
                ErrorCode.UNSUPPORTED_TYPE,
                f"content type {request.content_type!r} is not a supported image or video",
            )
        return services.uploads.presign(request.filename, request.content_type)

    @app.get("/v1/results", tags=["results"])
    def list_results(
        services: ServicesDep,
        limit: Annotated[int, Query(ge=1, le=100)] = 20,
        token: Annotated[str | None, Query(description="next_token of the previous page")] = None,
    ) -> ResultPage:
        """Past results, newest first."""
        try:
            page = services.results.list(limit=limit, token=token)
        except ValueError as exc:
            raise client_error(400, "invalid_token", str(exc)) from exc
        return ResultPage(items=page.items, next_token=page.next_token)

    @app.get("/v1/results/{result_id}", tags=["results"], responses={404: {"model": ErrorBody}})
    def get_result(services: ServicesDep, result_id: str) -> DetectionResult:
        result = services.results.get(result_id)
        if result is None:
            raise client_error(404, "result_not_found", f"no result with id {result_id!r}")
        return result

    @app.get(
        "/v1/results/{result_id}/evidence.jpg",
        tags=["results"],
        responses={200: {"content": {"image/jpeg": {}}}, 404: {"model": ErrorBody}},
    )
    def get_evidence(services: ServicesDep, result_id: str) -> Response:
        """The image, or the video's most suspicious frame, that the face boxes refer to."""
        result = services.results.get(result_id)
        key = result.evidence.key if result and result.evidence else None
        if not key:
            raise client_error(404, "evidence_not_found", f"no evidence image for {result_id!r}")
        try:
            data = services.media.get(key)
        except KeyError as exc:
            raise client_error(404, "evidence_not_found", f"no evidence image for {result_id!r}") from exc
        return Response(data, media_type="image/jpeg", headers={"Cache-Control": "max-age=86400"})

    @app.post(
        "/v1/results/{result_id}/feedback",
        tags=["results"],
        responses={404: {"model": ErrorBody}, 409: {"model": ErrorBody}},
    )
    def post_feedback(services: ServicesDep, result_id: str, body: FeedbackRequest) -> Feedback:
        """A reviewer's label for a scanned file; labelled files train the next model.
        Posting again replaces the label."""
        if services.feedback is None:
            raise client_error(404, "not_available", "this deployment does not store feedback")
        result = services.results.get(result_id)
        if result is None:
            raise client_error(404, "result_not_found", f"no result with id {result_id!r}")
        media_key = result.source.get("key")
        if result.status is not Status.DONE or not media_key:
            raise client_error(
                409,
                "result_not_done",
                f"result {result_id!r} is {result.status.value}: only a finished scan "
                "of a stored file can be labelled",
                result_id,
            )
        feedback = Feedback(
            result_id=result_id,
            label=body.label,
            reviewer=body.reviewer,
            note=body.note,
            media_key=media_key,
            path=result.path,
            model_version=result.model.version if result.model else None,
            score=result.score,
        )
        services.feedback.put(feedback)
        return feedback

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


def _failure(result: DetectionResult) -> HTTPException:
    """The HTTP error for a failed scan: 4xx for what the client sent, 5xx for our own faults."""
    assert result.error is not None
    fault = (
        status.HTTP_503_SERVICE_UNAVAILABLE
        if result.error.code is ErrorCode.MODEL_ERROR
        else status.HTTP_500_INTERNAL_SERVER_ERROR
    )
    code = _ERROR_STATUS.get(result.error.code, fault)
    return client_error(code, result.error.code, result.error.message, result.id)


def _measure(file: UploadFile) -> int:
    file.file.seek(0, 2)
    size = file.file.tell()
    file.file.seek(0)
    return size
