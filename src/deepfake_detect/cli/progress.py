"""The one progress bar of the CLI: created on the first callback (so an image shows no frame bar),
restarted when a new pass reports its first item (one gate bar per model evaluated)."""

from __future__ import annotations

import sys
from typing import Never

from tqdm import tqdm


class ProgressBar:
    def __init__(self, desc: str, unit: str, enabled: bool = True) -> None:
        self.desc, self.unit, self.enabled = desc[:30], unit, enabled
        self.bar: tqdm[Never] | None = None

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        if self.bar is None or (done == 1 and self.bar.n > 1):
            self.close()
            self.bar = tqdm(total=total, unit=self.unit, desc=self.desc, leave=False, file=sys.stderr)
        self.bar.total = total
        self.bar.n = done
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
