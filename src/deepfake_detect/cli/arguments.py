"""Argument types the CLI's commands share."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime


def iso_moment(text: str) -> datetime:
    """An ISO date or date-time; without a zone it is UTC."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO date or time: {text!r}") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
