from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from deepfake_detect.aws.failures import permanent_error
from deepfake_detect.core.errors import ErrorCode, MediaError
from deepfake_detect.store.base import ObjectNotFoundError


def client_error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}}, "GetObject")


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (MediaError(ErrorCode.CORRUPT_MEDIA, "truncated"), ErrorCode.CORRUPT_MEDIA),
        (MediaError(ErrorCode.VIDEO_TOO_LONG, "long"), ErrorCode.VIDEO_TOO_LONG),
        (ObjectNotFoundError("uploads/x.jpg"), ErrorCode.NOT_FOUND),
        (client_error("NoSuchKey"), ErrorCode.NOT_FOUND),
        (client_error("404"), ErrorCode.NOT_FOUND),
        (client_error("NoSuchVersion"), ErrorCode.NOT_FOUND),
        (client_error("InvalidObjectState"), ErrorCode.NOT_FOUND),
    ],
)
def test_the_files_fault_is_permanent(exc: BaseException, code: ErrorCode) -> None:
    failure = permanent_error(exc)
    assert failure is not None and failure[0] is code and failure[1]


@pytest.mark.parametrize(
    "exc",
    [
        client_error("SlowDown"),
        client_error("ProvisionedThroughputExceededException"),
        client_error("AccessDenied"),  # a broken deployment: retry, then the DLQ alarm tells someone
        client_error("InternalError"),
        EndpointConnectionError(endpoint_url="https://s3.amazonaws.com"),
        RuntimeError("a bug"),
        KeyError("size"),  # a bug too: only the media store's own not-found means "deleted"
    ],
)
def test_everything_else_is_transient(exc: BaseException) -> None:
    assert permanent_error(exc) is None
