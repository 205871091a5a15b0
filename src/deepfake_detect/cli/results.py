"""``deepfake-detect delete ID...``: delete results and everything of their files, in the local
store (``--data-dir``) or, with ``--aws``, in the deployed stack (an operator's delete: whoever the
result belongs to; users delete their own through ``DELETE /v1/results/{id}``).
Registered on the main parser by ``add_commands``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from deepfake_detect.settings import get_settings
from deepfake_detect.store.base import ResultStore
from deepfake_detect.store.deletion import ResultDeleter

EXIT_OK, EXIT_MISSING = 0, 1


def delete(args: argparse.Namespace) -> int:
    settings = get_settings()
    results: ResultStore
    if args.aws:
        from deepfake_detect.aws.wiring import cloud_stores

        _, results, deleter = cloud_stores(settings)
    else:
        from deepfake_detect.local.wiring import local_stores

        if args.data_dir is not None:
            settings = settings.updated({"data_dir": args.data_dir})
        _, results, deleter = local_stores(settings)
    return delete_results(args.ids, results, deleter)


def delete_results(ids: list[str], results: ResultStore, deleter: ResultDeleter) -> int:
    missing = 0
    for result_id in dict.fromkeys(ids):
        record = results.get(result_id)
        if record is None:
            print(f"deepfake-detect: no result {result_id}", file=sys.stderr)
            missing += 1
            continue
        deleter.delete(record)
        print(f"deleted {result_id} ({record.path}): the record, its upload and evidence image")
    return EXIT_MISSING if missing else EXIT_OK


def add_commands(commands: Any) -> None:
    """Register ``delete`` on the CLI's sub-command parsers."""
    p = commands.add_parser(
        "delete",
        help="delete results: the record, the uploaded file, its evidence image and any label",
        description="Delete results and everything of their files: the record, the upload, the "
        "evidence image (and any other image made from it, every stored version of them in the "
        "cloud), a reviewer's label and its copy in the training channel.",
        epilog="exit status: 0 every result was deleted, 1 some id had no result",
    )
    p.add_argument("ids", nargs="+", metavar="ID", help="result ids (as the API and --json show them)")
    p.add_argument("--data-dir", type=Path, help="where uploads and the results database live")
    p.add_argument(
        "--aws",
        action="store_true",
        help="delete in the deployed stack (DEEPFAKE_AWS_* settings and AWS credentials), whoever owns it",
    )
    p.set_defaults(handler=delete)
