"""Operators' commands (registered on the main parser by ``add_commands``):

- ``deepfake-detect backfill``: scan objects already in the upload bucket, through the detect
  queue, once each (``aws/handlers/backfill.py``);
- ``deepfake-detect deliveries``: the local service's completion-webhook deliveries and every
  attempt (``local/webhooks.py``; the same as ``GET /v1/results/{id}/deliveries``);
- ``deepfake-detect export``: results of a time range as JSON Lines or CSV, from the local store
  or a deployed stack (``cli/export.py``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from tqdm import tqdm

from deepfake_detect.cli.arguments import iso_moment
from deepfake_detect.cli.export import add_commands as add_export_command
from deepfake_detect.settings import get_settings

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def backfill(args: argparse.Namespace) -> int:
    from deepfake_detect.aws.handlers.backfill import BackfillError, BackfillReport, backfill_from_settings

    settings = get_settings()
    show_bar = args.progress or (not args.no_progress and sys.stderr.isatty())
    with tqdm(unit="object", desc="listed", disable=not show_bar, file=sys.stderr) as bar:

        def progress(report: BackfillReport) -> None:
            bar.n = report.listed
            bar.set_postfix(enqueued=report.enqueued, skipped=report.skipped_finished, refresh=False)
            bar.refresh()

        try:
            job = backfill_from_settings(
                settings,
                bucket=args.bucket,
                prefix=args.prefix,
                queue_url=args.queue_url,
                state_path=args.state,
                since=args.since,
                until=args.until,
                limit=args.limit,
                restart=args.restart,
                dry_run=args.dry_run,
                progress=progress,
            )
            report = job.run()
        except BackfillError as exc:
            print(f"deepfake-detect: {exc}", file=sys.stderr)
            return EXIT_USAGE
    if args.dry_run:
        for key in report.keys:
            print(key)
    verb = "would enqueue" if args.dry_run else "enqueued"
    where = f"s3://{job.bucket}/{job.prefix}"
    resumed = f", resumed after {report.resumed_after!r}" if report.resumed_after else ""
    status = "complete" if report.complete else f"stopped after {report.last_key!r} (run again to resume)"
    print(
        f"{where}: listed {report.listed}, {verb} {report.enqueued}, skipped {report.skipped_finished} "
        f"already scanned, {report.skipped_outside_window} outside --since/--until{resumed}; {status}"
        + ("" if args.dry_run else f"; state {job.state_path}")
    )
    return EXIT_OK


def deliveries(args: argparse.Namespace) -> int:
    from deepfake_detect.local.webhooks import SQLiteDeliveryLog

    settings = get_settings()
    data_dir: Path = args.data_dir or settings.data_dir
    path = data_dir / "events.sqlite3"
    if not path.is_file():
        print(f"deepfake-detect: no webhook deliveries recorded in {data_dir}", file=sys.stderr)
        return EXIT_FAILED
    log = SQLiteDeliveryLog(path)
    try:
        found = log.for_result(args.result_id) if args.result_id else log.recent(args.limit)
    finally:
        log.close()
    if args.json:
        for delivery in found:
            print(delivery.model_dump_json())
        return EXIT_OK
    print(f"{'state':<9} {'attempts':>8}  {'last answer':<28} {'event':<6}  result / event id")
    for delivery in found:
        last: Any = delivery.attempts[-1] if delivery.attempts else None
        answer = "-" if last is None else (last.error or f"HTTP {last.status_code}")
        print(
            f"{delivery.state:<9} {len(delivery.attempts):>8}  {answer[:28]:<28} {delivery.event_status:<6}  "
            f"{delivery.result_id} / {delivery.event_id}"
        )
    return EXIT_OK


def add_commands(commands: Any) -> None:
    p = commands.add_parser(
        "backfill",
        help="scan objects already in the upload bucket (enqueues S3's own notification for each)",
        description=(
            "Put an S3 ObjectCreated notification on the detect queue for every object under the "
            "prefix that has no done or failed result yet; resumable, and idempotent with the "
            "detect function (docs/deploy.md). Reads DEEPFAKE_AWS_* for what is not given."
        ),
    )
    p.add_argument("--bucket", help="the upload bucket (default: DEEPFAKE_AWS_UPLOAD_BUCKET)")
    p.add_argument("--prefix", help="only keys under this prefix (default: the upload prefix, uploads/)")
    p.add_argument("--queue-url", help="the detect queue (default: DEEPFAKE_AWS_DETECT_QUEUE_URL)")
    p.add_argument("--since", type=iso_moment, help="only objects last modified at or after this (ISO; UTC)")
    p.add_argument("--until", type=iso_moment, help="only objects last modified before this (ISO; UTC)")
    p.add_argument("--limit", type=_positive, help="enqueue at most this many now; the next run resumes")
    p.add_argument(
        "--state", type=Path, help="the checkpoint file (default: <data dir>/backfill/<bucket>-<hash>.json)"
    )
    p.add_argument("--restart", action="store_true", help="ignore an unfinished checkpoint; start over")
    p.add_argument("--dry-run", action="store_true", help="list what would be enqueued; send nothing")
    p.add_argument(
        "--progress", action="store_true", help="show the progress bar even when not on a terminal"
    )
    p.add_argument("--no-progress", action="store_true", help="never show the progress bar")
    p.set_defaults(handler=backfill)

    p = commands.add_parser(
        "deliveries", help="the local service's webhook deliveries, with every attempt (docs/events.md)"
    )
    p.add_argument("result_id", nargs="?", help="only this result's deliveries (default: the latest)")
    p.add_argument("--limit", type=_positive, default=20, help="how many of the latest (default 20)")
    p.add_argument("--json", action="store_true", help="one JSON delivery per line")
    p.add_argument("--data-dir", type=Path, help="the service's data folder (default: DEEPFAKE_DATA_DIR)")
    p.set_defaults(handler=deliveries)

    add_export_command(commands)
