"""What an upload under an ``Idempotency-Key`` may answer besides its ticket (backend-free, so
that the API can catch it without knowing the cloud's stores)."""

from __future__ import annotations


class UploadKeyReusedError(Exception):
    """The ``Idempotency-Key`` already names an upload of a different file: ``differs`` says what
    (``"file name"``, ``"content type"``, ``"size"``); ``result_id`` is the first upload's."""

    def __init__(self, result_id: str, differs: str) -> None:
        super().__init__(f"the key names result {result_id}, whose {differs} differs")
        self.result_id = result_id
        self.differs = differs
