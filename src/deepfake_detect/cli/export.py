"""``deepfake-detect export``: results of a time range as JSON Lines or CSV (``store/export.py`` has
the record and the columns), from the local store (``--data-dir``: every result there) or, with
``--api URL``, from a deployed stack or a running service (the token's owner's results, through
``deepfake_detect.client``). Registered on the main parser by ``add_commands``."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from deepfake_detect.cli.arguments import iso_moment
from deepfake_detect.settings import get_settings

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
TOKEN_ENV = "DEEPFAKE_API_TOKEN"


@contextlib.contextmanager
def _output(out: str) -> Iterator[BinaryIO]:
    """stdout for ``-``; otherwise the file, written beside it and moved in place when complete."""
    if out == "-":
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    target = Path(out)
    partial = target.with_name(target.name + ".partial")
    try:
        with partial.open("wb") as file:
            yield file
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)


def export(args: argparse.Namespace) -> int:
    from deepfake_detect.store.export import ExportFormat

    fmt = ExportFormat(args.format or ("csv" if str(args.out).lower().endswith(".csv") else "jsonl"))
    since: datetime = args.since or datetime(1970, 1, 1, tzinfo=UTC)
    until: datetime = args.until or datetime.now(UTC)
    if since >= until:
        print("deepfake-detect: --since must be before --until", file=sys.stderr)
        return EXIT_USAGE
    if args.api:
        return _export_remote(args, fmt, since, until)
    from deepfake_detect.local.stores import SQLiteResultStore
    from deepfake_detect.store import export as exporting

    data_dir: Path = args.data_dir or get_settings().data_dir
    database = data_dir / "results.sqlite3"
    if not database.is_file():
        print(f"deepfake-detect: no results database in {data_dir}", file=sys.stderr)
        return EXIT_USAGE
    results = SQLiteResultStore(database)
    count = 0
    try:
        with _output(args.out) as out:
            if fmt is ExportFormat.CSV:
                out.write(exporting.csv_header())
            for result in exporting.records(results, since, until, owner=None):
                out.write(exporting.encode(result, fmt))
                count += 1
    finally:
        results.close()
    _summary(count, fmt.value, args.out)
    return EXIT_OK


def _export_remote(args: argparse.Namespace, fmt: Any, since: datetime, until: datetime) -> int:
    from deepfake_detect.client import ApiError, DeepfakeClient

    client = DeepfakeClient(args.api, token=args.token or os.environ.get(TOKEN_ENV))
    try:
        with _output(args.out) as out:
            count = client.export(out, since=since, until=until, fmt=fmt.value)
    except (ApiError, OSError) as exc:
        print(f"deepfake-detect: the export failed: {exc}", file=sys.stderr)
        return EXIT_FAILED
    _summary(count, fmt.value, args.out)
    return EXIT_OK


def _summary(count: int, fmt: str, out: str) -> None:
    where = "standard output" if out == "-" else out
    print(f"exported {count} result(s) as {fmt} to {where}", file=sys.stderr)


def add_commands(commands: Any) -> None:
    p = commands.add_parser(
        "export",
        help="results of a time range as JSON Lines or CSV (the local store, or --api)",
        description=(
            "Write the results created in [--since, --until) as JSON Lines (each line the record "
            "GET /v1/results/{id} answers) or CSV (flat columns, a header row; README, 'Export'), "
            "oldest first. Reads the local store (every result there) unless --api names a deployed "
            "stack or a running service, whose export of the token's owner's results it follows "
            "page by page."
        ),
        epilog="exit status: 0 exported, 1 the API failed, 2 bad arguments or no local results database",
    )
    p.add_argument("--since", type=iso_moment, help="first creation time included (ISO; UTC without a zone)")
    p.add_argument("--until", type=iso_moment, help="end of the range, excluded (ISO; default: now)")
    p.add_argument(
        "--format",
        choices=("jsonl", "csv"),
        help="jsonl (default) or csv; default csv when --out ends in .csv",
    )
    p.add_argument("--out", default="-", help="the file to write (default: standard output)")
    p.add_argument(
        "--data-dir", type=Path, help="the local service's data folder (default: DEEPFAKE_DATA_DIR)"
    )
    group = p.add_argument_group("remote export (a deployed stack or a running service)")
    group.add_argument("--api", metavar="URL", help="export through this API instead of the local store")
    group.add_argument("--token", help=f"bearer token for the API (default: ${TOKEN_ENV})")
    p.set_defaults(handler=export)
