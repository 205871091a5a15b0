"""A typed client of the deepfake-detect HTTP API: a deployed stack or the local service.

Standard library only (urllib), so it works wherever the package is installed, and it never
imports boto3: an upload to the cloud goes through the presigned POST the API hands out.

    client = DeepfakeClient("https://abc.execute-api.eu-west-1.amazonaws.com", token=id_token)
    result = client.scan(Path("photo.jpg"))          # upload, then poll until done or failed
    print(result.verdict, result.score)

``submit`` picks the way in from ``GET /health``: in the cloud ``POST /v1/uploads`` and a
multipart POST straight to the bucket; locally ``POST /v1/detect``. ``wait`` polls
``GET /v1/results/{id}``. Every error of the API is an ``ApiError`` with its ``code``.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from http.client import HTTPResponse
from pathlib import Path
from typing import Any, BinaryIO, TypeVar
from urllib.parse import quote, urlencode

from defusedxml import ElementTree

from deepfake_detect import __version__
from deepfake_detect.core.formats import CONTENT_TYPES, sniff
from deepfake_detect.core.result import DetectionResult, Status

FINISHED = (Status.DONE, Status.FAILED)
NEXT_TOKEN_HEADER = "X-Next-Token"  # GET /v1/results/export: the rest of the range
# POST /v1/detect, POST /v1/uploads: a repeat answers with the first upload's result (or ticket)
IDEMPOTENCY_HEADER = "Idempotency-Key"
_T = TypeVar("_T")
# Answers worth another try: throttled (API Gateway, the local queue) or briefly unavailable.
_RETRY_STATUS = {429, 502, 503, 504}
_CHUNK = 1 << 20


class ApiError(Exception):
    """An answer other than 2xx: ``code`` is the API's error code (``unsupported_type``,
    ``result_not_found``, ...), or ``http_<status>`` when the body carried none (a gateway's 401)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        result_id: str | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.result_id = result_id
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class UploadTicket:
    """``POST /v1/uploads``: where to POST the file, and the result id to poll. A repeat under the
    same ``Idempotency-Key`` whose file already arrived (``uploaded``) has no POST (``url`` None)
    but the ``result`` as it stood."""

    result_id: str
    key: str
    url: str | None
    fields: dict[str, str]
    expires_in: int
    max_bytes: int
    result_url: str
    uploaded: bool = False
    replayed: bool = False
    result: DetectionResult | None = None

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> UploadTicket:
        result = body.get("result")
        return cls(
            result_id=str(body["result_id"]),
            key=str(body["key"]),
            url=str(body["url"]) if body.get("url") else None,
            fields={str(k): str(v) for k, v in (body.get("fields") or {}).items()},
            expires_in=int(body.get("expires_in", 0)),
            max_bytes=int(body.get("max_bytes", 0)),
            result_url=str(body.get("result_url", f"/v1/results/{body['result_id']}")),
            uploaded=bool(body.get("uploaded", False)),
            replayed=bool(body.get("replayed", False)),
            result=DetectionResult.model_validate(result) if isinstance(result, dict) else None,
        )


@dataclass(frozen=True)
class ResultPage:
    items: list[DetectionResult]
    next_token: str | None


def content_type_of(path: Path) -> str | None:
    """The content type of a media file by its first bytes (as the service decides), or None."""
    with path.open("rb") as file:
        _kind, container = sniff(file.read(64))
    return CONTENT_TYPES.get(container) if container else None


class _Multipart:
    """A multipart/form-data body streamed from disk, with its length known up front (S3's POST
    takes no chunked body). The file part comes last, as S3 requires."""

    def __init__(self, fields: dict[str, str], field_name: str, path: Path, filename: str, content_type: str):
        self.boundary = f"----deepfake-{uuid.uuid4().hex}"
        parts = []
        for name, value in fields.items():
            disposition = f'Content-Disposition: form-data; name="{name}"'
            parts.append(f"--{self.boundary}\r\n{disposition}\r\n\r\n{value}\r\n".encode())
        safe_name = quote(filename, safe=" ._-")
        parts.append(
            (
                f"--{self.boundary}\r\n"
                f'Content-Disposition: form-data; name="{field_name}"; filename="{safe_name}"\r\n'
                f"Content-Type: {content_type}\r\n\r\n"
            ).encode()
        )
        self.head = b"".join(parts)
        self.tail = f"\r\n--{self.boundary}--\r\n".encode()
        self.path = path
        self.length = len(self.head) + path.stat().st_size + len(self.tail)

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    def __iter__(self) -> Iterator[bytes]:
        yield self.head
        with self.path.open("rb") as file:
            while chunk := file.read(_CHUNK):
                yield chunk
        yield self.tail


class DeepfakeClient:
    """The API at ``base_url`` (``https://<api id>.execute-api.<region>.amazonaws.com``, or
    ``http://127.0.0.1:8000``); ``token`` is sent as ``Authorization: Bearer`` to the API only."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        timeout_s: float = 30.0,
        retries: int = 4,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token or None
        self.timeout_s = timeout_s
        self.retries = retries
        self._sleep = sleep
        self._mode: str | None = None

    # ---------------------------------------------------------------- the API's resources
    def health(self) -> dict[str, Any]:
        body: dict[str, Any] = self._json("GET", "/health")
        return body

    @property
    def mode(self) -> str:
        """``cloud`` (presigned uploads) or ``local`` (``POST /v1/detect``), from ``/health``."""
        if self._mode is None:
            self._mode = str(self.health().get("mode", "cloud"))
        return self._mode

    def model(self) -> dict[str, Any]:
        body: dict[str, Any] = self._json("GET", "/v1/model")
        return body

    def get_result(self, result_id: str) -> DetectionResult:
        return DetectionResult.model_validate(self._json("GET", f"/v1/results/{quote(result_id, safe='')}"))

    def list_results(self, limit: int = 20, token: str | None = None) -> ResultPage:
        query = {"limit": str(limit), **({"token": token} if token else {})}
        body = self._json("GET", f"/v1/results?{urlencode(query)}")
        return ResultPage(
            items=[DetectionResult.model_validate(item) for item in body["items"]],
            next_token=body.get("next_token"),
        )

    def stats(self, weeks: int = 8) -> dict[str, Any]:
        """``GET /v1/stats``: accuracy over time, per model version and ISO week."""
        body: dict[str, Any] = self._json("GET", f"/v1/stats?{urlencode({'weeks': str(weeks)})}")
        return body

    def export(
        self,
        out: BinaryIO,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        fmt: str = "jsonl",
    ) -> int:
        """``GET /v1/results/export`` into ``out``: every answer, following ``X-Next-Token`` (the
        cloud cuts an export into answers of a few MB; a CSV answer's header row is written once).
        ``until`` defaults to now, fixed before the first answer so that every answer covers the
        same range. Returns the records written."""
        query = {"format": fmt, "until": (until or datetime.now(UTC)).isoformat()}
        if since is not None:
            query["since"] = since.isoformat()
        end = b"\r\n" if fmt == "csv" else b"\n"  # a CSV cell may hold a bare newline
        records = 0
        header_written = False

        def copy(response: HTTPResponse) -> str | None:
            nonlocal records, header_written
            skip_header = fmt == "csv"  # every CSV answer starts with the header row
            pending, tail = b"", b""
            while chunk := response.read(_CHUNK):
                if skip_header:
                    pending += chunk
                    if b"\n" not in pending:
                        continue
                    header, chunk = pending.split(b"\n", 1)
                    if not header_written:
                        out.write(header + b"\n")
                        header_written = True
                    skip_header = False
                records += (tail + chunk[: len(end) - 1]).count(end) + chunk.count(end)
                tail = chunk[-(len(end) - 1) :] if len(end) > 1 else b""
                out.write(chunk)
            return response.headers.get(NEXT_TOKEN_HEADER)

        token: str | None = None
        while True:
            page = query | ({"token": token} if token else {})
            token = self._call(
                "GET", f"/v1/results/export?{urlencode(page)}", accept="*/*", read=copy, retry_reads=False
            )
            if not token:
                return records

    def create_upload(
        self,
        filename: str,
        content_type: str,
        *,
        size: int | None = None,
        idempotency_key: str | None = None,
    ) -> UploadTicket:
        """Cloud: a presigned POST for one file, and a queued result to poll. ``size`` makes the
        POST accept that size only; with ``idempotency_key`` a repeat (also one sent again after a
        dropped connection) names the first upload instead of making a second one."""
        body: dict[str, Any] = {"filename": filename, "content_type": content_type}
        if size is not None:
            body["size"] = size
        headers = {IDEMPOTENCY_HEADER: idempotency_key} if idempotency_key else None
        answer = self._request(
            "POST", "/v1/uploads", json.dumps(body).encode(), "application/json", headers=headers
        )
        return UploadTicket.from_json(answer)

    def upload(self, ticket: UploadTicket, path: Path, content_type: str) -> None:
        """POST the file straight to the bucket with the ticket's fields (no token goes there)."""
        if ticket.url is None:
            raise ValueError(f"the upload of result {ticket.result_id} already arrived: nothing to POST")
        body = _Multipart(ticket.fields, "file", path, path.name, content_type)
        request = urllib.request.Request(
            ticket.url,
            data=iter(body),
            method="POST",
            headers={"Content-Type": body.content_type, "Content-Length": str(body.length)},
        )
        try:
            with urllib.request.urlopen(request, timeout=max(self.timeout_s, 300.0)) as response:
                response.read()
        except urllib.error.HTTPError as exc:
            raise _storage_error(exc, ticket.result_id) from None

    def detect(self, path: Path, content_type: str, idempotency_key: str | None = None) -> DetectionResult:
        """Local service: ``POST /v1/detect`` (an image's answer is its result, a video's a
        queued record to poll). With ``idempotency_key`` a dropped connection is retried like a
        GET: the service answers a repeat with the first upload's result."""
        body = _Multipart({}, "file", path, path.name, content_type)
        headers = {IDEMPOTENCY_HEADER: idempotency_key} if idempotency_key else None
        answer = self._request(
            "POST", "/v1/detect", body, body.content_type, length=body.length, headers=headers
        )
        return DetectionResult.model_validate(answer)

    # ---------------------------------------------------------------- scanning a file
    def submit(
        self, path: Path, content_type: str | None = None, *, idempotency_key: str | None = None
    ) -> DetectionResult:
        """Send one file the way this API takes it; returns its record (queued, or finished).
        With ``idempotency_key`` a repeat is answered with the first result (the cloud: the first
        upload's ticket, and no second POST of a file that already arrived)."""
        content_type = content_type or content_type_of(path) or "application/octet-stream"
        if self.mode == "local":
            return self.detect(path, content_type, idempotency_key)
        ticket = self.create_upload(
            path.name, content_type, size=path.stat().st_size, idempotency_key=idempotency_key
        )
        if ticket.url is not None:
            self.upload(ticket, path, content_type)
        return self.get_result(ticket.result_id)

    def wait(
        self,
        result_id: str,
        *,
        poll_s: float = 1.0,
        timeout_s: float = 900.0,
        progress: Callable[[DetectionResult], None] | None = None,
    ) -> DetectionResult:
        """Poll until the result is done or failed; ``progress`` sees every answer."""
        deadline = time.monotonic() + timeout_s
        while True:
            result = self.get_result(result_id)
            if progress is not None:
                progress(result)
            if result.status in FINISHED:
                return result
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"result {result_id} is still {result.status.value} after {timeout_s:.0f} s"
                )
            self._sleep(poll_s)

    def scan(self, path: Path, **wait_options: Any) -> DetectionResult:
        """Submit and wait: the finished result of one file."""
        record = self.submit(path)
        if record.status in FINISHED:
            return record
        return self.wait(record.id, **wait_options)

    # ---------------------------------------------------------------- HTTP
    def _json(
        self, method: str, path: str, data: bytes | None = None, content_type: str | None = None
    ) -> Any:
        return self._request(method, path, data, content_type)

    def _request(
        self,
        method: str,
        path: str,
        data: bytes | _Multipart | None = None,
        content_type: str | None = None,
        *,
        length: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        raw = self._call(
            method,
            path,
            data,
            content_type,
            length=length,
            read=lambda response: response.read(),
            headers=headers,
        )
        return json.loads(raw) if raw else None

    def _call(
        self,
        method: str,
        path: str,
        data: bytes | _Multipart | None = None,
        content_type: str | None = None,
        *,
        read: Callable[[HTTPResponse], _T],
        length: int | None = None,
        accept: str = "application/json",
        retry_reads: bool = True,
        headers: dict[str, str] | None = None,
    ) -> _T:
        """``read(answer)`` of a 2xx answer; throttling and brief outages are tried again first (a
        GET that failed while ``read`` ran only with ``retry_reads``: it may have written part)."""
        extra = headers or {}
        # A POST with an Idempotency-Key is as safe to repeat after a reset as a GET.
        repeatable = method == "GET" or IDEMPOTENCY_HEADER in extra
        headers = {"Accept": accept, "User-Agent": f"deepfake-detect-client/{__version__}", **extra}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if content_type:
            headers["Content-Type"] = content_type
        if length is not None:
            headers["Content-Length"] = str(length)
        attempt = 0
        while True:
            attempt += 1
            body = iter(data) if isinstance(data, _Multipart) else data
            request = urllib.request.Request(self.base_url + path, data=body, method=method, headers=headers)
            reading = False
            try:
                with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                    reading = True
                    return read(response)
            except urllib.error.HTTPError as exc:
                error = _api_error(exc)
                if exc.code not in _RETRY_STATUS or attempt > self.retries:
                    raise error from None
                self._sleep(error.retry_after_s or min(2.0 ** (attempt - 1), 30.0))
            except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
                # Reset or timed out: safe to repeat a GET only. Refused: nothing listens there.
                refused = isinstance(getattr(exc, "reason", exc), ConnectionRefusedError)
                if not repeatable or refused or attempt > self.retries or (reading and not retry_reads):
                    raise
                self._sleep(min(2.0 ** (attempt - 1), 30.0))


def _read_all(response: HTTPResponse) -> bytes:
    return response.read()


def _api_error(exc: urllib.error.HTTPError) -> ApiError:
    raw = exc.read()
    retry_after = exc.headers.get("Retry-After") if exc.headers else None
    code, message, result_id = f"http_{exc.code}", str(exc.reason), None
    try:
        body = json.loads(raw)
    except ValueError:
        body = None
    if isinstance(body, dict):
        detail = body.get("detail", body)
        if isinstance(detail, dict):
            code = str(detail.get("code") or code)
            message = str(detail.get("message") or message)
            result_id = detail.get("result_id")
        elif isinstance(detail, list):  # FastAPI's own 422
            code, message = "invalid_request", json.dumps(detail)[:500]
    return ApiError(
        exc.code,
        code,
        message,
        result_id,
        float(retry_after) if retry_after and retry_after.isdigit() else None,
    )


def _storage_error(exc: urllib.error.HTTPError, result_id: str) -> ApiError:
    """S3's XML error of a presigned POST, as an ``ApiError`` (``file_too_large`` when the file
    is over the policy's size range)."""
    raw = exc.read()
    code, message = f"http_{exc.code}", str(exc.reason)
    try:
        root = ElementTree.fromstring(raw)
        code = root.findtext("Code") or code
        message = root.findtext("Message") or message
    except ElementTree.ParseError:
        pass
    if code == "EntityTooLarge":
        code = "file_too_large"
    elif code == "EntityTooSmall":
        code = "empty_file"
    return ApiError(exc.code, code, f"the upload was refused: {message}", result_id)
