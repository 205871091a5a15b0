"""The local service's completion webhook: every result that reaches ``done`` or ``failed`` is
posted to ``DEEPFAKE_SERVICE_WEBHOOK_URL`` as a ``Scan Completed`` event (``store/events.py``,
docs/events.md), signed with HMAC-SHA256.

Never in the way of a scan: ``publish`` only writes the event to SQLite (``<data_dir>/events.sqlite3``)
and wakes one background thread, which posts it. A delivery that gets no 2xx answer (an error
status, a timeout, a refused connection, a redirect) is retried after ``webhook_backoff_s``,
doubling up to ``webhook_max_backoff_s``, until ``webhook_max_attempts``; then it is ``failed``.
Every attempt is recorded (``GET /v1/results/{id}/deliveries``, ``deepfake-detect deliveries``).
Events still pending when the service stops are sent after the next start.

Each attempt is signed anew: ``X-Deepfake-Timestamp`` (Unix seconds) and ``X-Deepfake-Signature:
sha256=<hex HMAC of "<timestamp>." + body>``, so a receiver refuses an old request replayed.
"""

from __future__ import annotations

import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import SecretStr

from deepfake_detect import __version__
from deepfake_detect.core.result import DetectionResult
from deepfake_detect.local.sqlite import open_sqlite
from deepfake_detect.settings import ServiceSettings
from deepfake_detect.store.events import (
    ATTEMPT_HEADER,
    EVENT_ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    Delivery,
    DeliveryAttempt,
    DeliveryState,
    completion_event,
    sign,
)

log = logging.getLogger(__name__)

EVENTS_FILE = "events.sqlite3"  # under the data folder


def _now() -> datetime:
    return datetime.now(UTC)


def _shown_url(url: str) -> str:
    """The URL without credentials or query (a token in a query string is not shown back)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


class SQLiteDeliveryLog:
    """Events to deliver and every attempt, in ``events.sqlite3`` beside the results."""

    def __init__(self, path: Path) -> None:
        self._lock = threading.Lock()
        self._db = open_sqlite(path)
        self._db.executescript(
            """CREATE TABLE IF NOT EXISTS deliveries (
                event_id TEXT PRIMARY KEY,
                result_id TEXT NOT NULL,
                event_status TEXT NOT NULL,
                url TEXT NOT NULL,
                body BLOB NOT NULL,
                state TEXT NOT NULL,
                attempts INTEGER NOT NULL DEFAULT 0,
                created_at TEXT NOT NULL,
                next_attempt_at REAL);
            CREATE INDEX IF NOT EXISTS deliveries_by_result ON deliveries (result_id, created_at);
            CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (state, next_attempt_at);
            CREATE TABLE IF NOT EXISTS delivery_attempts (
                event_id TEXT NOT NULL,
                attempt INTEGER NOT NULL,
                attempted_at TEXT NOT NULL,
                status_code INTEGER,
                error TEXT,
                duration_ms REAL NOT NULL,
                PRIMARY KEY (event_id, attempt));"""
        )

    def add(
        self, event_id: str, result_id: str, event_status: str, url: str, body: bytes, due: float
    ) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO deliveries (event_id, result_id, event_status, url, body, state, created_at, "
                "next_attempt_at) VALUES (?, ?, ?, ?, ?, 'pending', ?, ?)",
                (event_id, result_id, event_status, url, body, _now().isoformat(), due),
            )

    def due(self, now: float, limit: int = 20) -> list[tuple[str, bytes, int]]:
        """Pending deliveries whose time has come: (event id, body, attempts so far)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT event_id, body, attempts FROM deliveries WHERE state = 'pending' "
                "AND next_attempt_at <= ? ORDER BY next_attempt_at LIMIT ?",
                (now, limit),
            ).fetchall()
        return [(r[0], bytes(r[1]), int(r[2])) for r in rows]

    def next_due(self) -> float | None:
        with self._lock:
            row = self._db.execute(
                "SELECT MIN(next_attempt_at) FROM deliveries WHERE state = 'pending'"
            ).fetchone()
        return None if row is None or row[0] is None else float(row[0])

    def record(
        self,
        event_id: str,
        url: str,
        attempt: int,
        status_code: int | None,
        error: str | None,
        duration_ms: float,
        state: DeliveryState,
        next_attempt_at: float | None,
    ) -> None:
        with self._lock:
            self._db.execute(  # only for a delivery still on record (its result was not deleted)
                "INSERT OR REPLACE INTO delivery_attempts (event_id, attempt, attempted_at, status_code, "
                "error, duration_ms) SELECT ?, ?, ?, ?, ?, ? "
                "WHERE EXISTS (SELECT 1 FROM deliveries WHERE event_id = ?)",
                (event_id, attempt, _now().isoformat(), status_code, error, round(duration_ms, 3), event_id),
            )
            self._db.execute(
                "UPDATE deliveries SET url = ?, state = ?, attempts = ?, next_attempt_at = ? "
                "WHERE event_id = ?",
                (url, state, attempt, next_attempt_at, event_id),
            )

    def delete_result(self, result_id: str) -> None:
        """Forget the deliveries of a deleted result and their attempts (one still being sent is
        not recorded: ``record`` writes only rows that still exist)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute(
                    "DELETE FROM delivery_attempts WHERE event_id IN "
                    "(SELECT event_id FROM deliveries WHERE result_id = ?)",
                    (result_id,),
                )
                self._db.execute("DELETE FROM deliveries WHERE result_id = ?", (result_id,))
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise

    def for_result(self, result_id: str) -> list[Delivery]:
        with self._lock:
            rows = self._db.execute(
                "SELECT event_id FROM deliveries WHERE result_id = ? ORDER BY created_at", (result_id,)
            ).fetchall()
        return [d for d in (self.get(r[0]) for r in rows) if d is not None]

    def recent(self, limit: int = 20) -> list[Delivery]:
        with self._lock:
            rows = self._db.execute(
                "SELECT event_id FROM deliveries ORDER BY created_at DESC LIMIT ?", (limit,)
            ).fetchall()
        return [d for d in (self.get(r[0]) for r in rows) if d is not None]

    def get(self, event_id: str) -> Delivery | None:
        with self._lock:
            row = self._db.execute(
                "SELECT event_id, result_id, event_status, url, state, created_at, next_attempt_at "
                "FROM deliveries WHERE event_id = ?",
                (event_id,),
            ).fetchone()
            attempts = self._db.execute(
                "SELECT attempt, attempted_at, status_code, error, duration_ms FROM delivery_attempts "
                "WHERE event_id = ? ORDER BY attempt",
                (event_id,),
            ).fetchall()
        if row is None:
            return None
        return Delivery(
            event_id=row[0],
            result_id=row[1],
            event_status=row[2],
            url=_shown_url(row[3]),
            state=row[4],
            created_at=datetime.fromisoformat(row[5]),
            next_attempt_at=datetime.fromtimestamp(row[6], UTC) if row[4] == "pending" and row[6] else None,
            attempts=[
                DeliveryAttempt(
                    attempt=a[0],
                    attempted_at=datetime.fromisoformat(a[1]),
                    status_code=a[2],
                    error=a[3],
                    duration_ms=a[4],
                )
                for a in attempts
            ],
        )

    def close(self) -> None:
        with self._lock:
            self._db.close()


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is a failed delivery: a signed POST is never re-sent somewhere else."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


Post = Callable[[str, bytes, dict[str, str], float], int]


def _post(url: str, body: bytes, headers: dict[str, str], timeout_s: float) -> int:
    """POST and return the status; raises ``urllib.error.HTTPError`` for a non-2xx answer."""
    opener = urllib.request.build_opener(_NoRedirects())
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    with opener.open(request, timeout=timeout_s) as response:
        response.read(65536)  # the answer's body is not used; read a little so the connection ends cleanly
        return int(response.status)


class WebhookNotifier:
    """``CompletionPublisher`` for the local service: queue in SQLite, post from one thread."""

    def __init__(
        self,
        settings: ServiceSettings,
        deliveries: SQLiteDeliveryLog,
        *,
        post: Post = _post,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.url = settings.webhook_url
        secret = settings.webhook_secret  # a plain str after Settings.updated (no validation there)
        self.secret = secret.get_secret_value() if isinstance(secret, SecretStr) else str(secret)
        if not self.secret:
            raise ValueError("DEEPFAKE_SERVICE_WEBHOOK_SECRET is needed with DEEPFAKE_SERVICE_WEBHOOK_URL")
        self.max_attempts = settings.webhook_max_attempts
        self.backoff_s = settings.webhook_backoff_s
        self.max_backoff_s = settings.webhook_max_backoff_s
        self.timeout_s = settings.webhook_timeout_s
        self.deliveries = deliveries
        self._post = post
        self._clock = clock
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    # ---------------------------------------------------------------- the workers' side
    def publish(self, result: DetectionResult) -> None:
        """Queue the result's event (a no-op for an unfinished one); returns at once."""
        event = completion_event(result)
        if event is None:
            return
        self.deliveries.add(
            event.id, result.id, event.detail.status, self.url, event.body(), due=self._clock()
        )
        self.start()
        self._wake.set()

    def start(self) -> None:
        """Start the sending thread (also sends what a previous run left pending)."""
        with self._start_lock:
            if self._thread is None or not self._thread.is_alive():
                self._stop.clear()
                self._thread = threading.Thread(target=self._run, name="webhook", daemon=True)
                self._thread.start()

    def close(self, timeout_s: float = 5.0) -> None:
        """Stop sending (what is pending stays pending, for the next start)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def flush(self, timeout_s: float = 30.0) -> None:
        """Wait until nothing is due now (tests; pending retries in the future are not waited for)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            due = self.deliveries.next_due()
            if due is None or due > self._clock():
                return
            time.sleep(0.02)

    # ---------------------------------------------------------------- the sending thread
    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                for event_id, body, attempts in self.deliveries.due(self._clock()):
                    if self._stop.is_set():
                        return
                    self._attempt(event_id, body, attempts + 1)
                next_due = self.deliveries.next_due()
            except Exception:  # the database, a bug: keep the thread alive, try again later
                log.exception("webhook delivery loop failed")
                next_due = self._clock() + 1.0
            wait = 60.0 if next_due is None else max(0.0, next_due - self._clock())
            if wait > 0:
                self._wake.wait(min(wait, 60.0))
                self._wake.clear()

    def _attempt(self, event_id: str, body: bytes, attempt: int) -> None:
        url = self.url  # the receiver configured now: a corrected URL gets what was left pending
        timestamp = int(self._clock())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"deepfake-detect-webhook/{__version__}",
            EVENT_ID_HEADER: event_id,
            ATTEMPT_HEADER: str(attempt),
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign(self.secret, timestamp, body),
        }
        started = time.perf_counter()
        status: int | None = None
        error: str | None = None
        try:
            status = self._post(url, body, headers, self.timeout_s)
            if not 200 <= status < 300:
                error = f"HTTP {status}"
        except urllib.error.HTTPError as exc:  # a 4xx/5xx answer (or a refused redirect)
            status, error = exc.code, f"HTTP {exc.code}"
        except Exception as exc:  # refused, reset, timed out, bad URL
            reason = getattr(exc, "reason", None)
            error = f"{type(exc).__name__}: {reason if reason is not None else exc}"[:500]
        duration_ms = (time.perf_counter() - started) * 1000.0
        if error is None:
            self.deliveries.record(event_id, url, attempt, status, None, duration_ms, "delivered", None)
            return
        if attempt >= self.max_attempts:
            log.warning("webhook delivery of event %s failed after %d attempts: %s", event_id, attempt, error)
            self.deliveries.record(event_id, url, attempt, status, error, duration_ms, "failed", None)
            return
        delay = min(self.backoff_s * 2 ** (attempt - 1), self.max_backoff_s)
        self.deliveries.record(
            event_id, url, attempt, status, error, duration_ms, "pending", self._clock() + delay
        )


def webhook_notifier(settings: ServiceSettings, data_dir: Path) -> WebhookNotifier | None:
    """The notifier the settings ask for; None when no webhook URL is set."""
    if not settings.webhook_url:
        return None
    return WebhookNotifier(settings, SQLiteDeliveryLog(data_dir / EVENTS_FILE))
