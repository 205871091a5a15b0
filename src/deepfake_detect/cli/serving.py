"""`deepfake-detect serve`'s HTTP server: uvicorn (h11) with read deadlines, so a client that sends
slowly, or not at all, cannot hold a connection for ever (slowloris).

- headers: a request's line and headers must all arrive within ``service.header_timeout_s`` of
  its first byte (or of the connection's opening, for a connection that sends nothing); past it the
  connection is answered ``408`` and closed;
- body: once the headers are in, the body must all arrive within ``service.body_timeout_s``;
- idle: a request still arriving is closed after ``service.read_idle_s`` without a byte;
- between requests: a keep-alive connection is closed after ``service.keep_alive_s`` idle.

While the server itself has stopped reading (the app has not yet taken the body it was sent:
flow control), the client is not blamed: the deadline waits.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from deepfake_detect.settings import ServiceSettings

TIMEOUT_ANSWER = b"HTTP/1.1 408 Request Timeout\r\nconnection: close\r\ncontent-length: 0\r\n\r\n"


@dataclass(frozen=True)
class ReadDeadlines:
    header_s: float
    body_s: float
    idle_s: float

    @classmethod
    def of(cls, service: ServiceSettings) -> ReadDeadlines:
        return cls(service.header_timeout_s, service.body_timeout_s, service.read_idle_s)


class DeadlineH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a read deadline on each request (``deadlines``: set on the
    subclass ``protocol_with`` makes)."""

    deadlines: ReadDeadlines = ReadDeadlines(10.0, 900.0, 60.0)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._phase: Any = None  # h11.IDLE (headers), h11.SEND_BODY (body) or None (none due)
        self._phase_deadline = 0.0
        self._timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._watch()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._watch()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_timer()
        super().connection_lost(exc)

    def on_response_complete(self) -> None:
        super().on_response_complete()  # may start on a request already buffered (pipelining)
        self._phase = None  # between requests the keep-alive timeout watches the connection
        self._stop_timer()
        if self.conn.their_state is not h11.IDLE:
            self._watch()

    def _watch(self) -> None:
        """Arm the deadline of what the client owes now: headers, the body, or nothing."""
        if self.transport is None or self.transport.is_closing():
            return
        state = self.conn.their_state
        now = self.loop.time()
        if state is h11.IDLE:  # a connection just opened, or the first bytes of its next request
            if self._phase is not h11.IDLE:
                self._phase, self._phase_deadline = h11.IDLE, now + self.deadlines.header_s
        elif state is h11.SEND_BODY:
            if self._phase is not h11.SEND_BODY:
                self._phase, self._phase_deadline = h11.SEND_BODY, now + self.deadlines.body_s
        else:  # the request is in (or the connection is done): the app's time, not the client's
            self._phase = None
        if self._phase is None:
            self._stop_timer()
            return
        self._arm(min(self._phase_deadline, now + self.deadlines.idle_s))

    def _arm(self, when: float) -> None:
        self._stop_timer()
        self._timer = self.loop.call_at(when, self._expired)

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expired(self) -> None:
        self._timer = None
        if self.transport is None or self.transport.is_closing() or self._phase is None:
            return
        if self.flow is not None and self.flow.read_paused:  # we stopped reading, not the client
            self._arm(self.loop.time() + self.deadlines.idle_s)
            return
        self.logger.info("closing a connection whose request did not arrive in time (%s)", self._phase)
        if self._phase is h11.IDLE:  # no request yet, so nothing answered on it: say why
            self.transport.write(TIMEOUT_ANSWER)
        self._phase = None
        self.transport.close()


def protocol_with(deadlines: ReadDeadlines) -> type[DeadlineH11Protocol]:
    """The protocol class uvicorn is given (``http=``), with these deadlines."""
    return type("ServeH11Protocol", (DeadlineH11Protocol,), {"deadlines": deadlines})


def run(app: Any, service: ServiceSettings) -> None:
    """Serve ``app`` on the service's address until stopped (SIGINT, SIGTERM)."""
    import uvicorn

    uvicorn.run(
        app,
        host=service.host,
        port=service.port,
        log_level="info",
        http=protocol_with(ReadDeadlines.of(service)),
        timeout_keep_alive=service.keep_alive_s,
    )
