"""Bounded collections of raw metadata fields."""

from __future__ import annotations

ELLIPSIS = "…"
MAX_KEY_CHARS = 100


def clip(value: str, limit: int) -> str:
    """``value`` cut to ``limit`` characters (an ellipsis marks a cut), control characters dropped."""
    text = "".join(ch for ch in value if ch.isprintable() or ch in "\n\t").strip()
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + ELLIPSIS


class RawFields:
    """At most ``max_fields`` fields of at most ``max_chars`` characters; repeated keys are joined."""

    def __init__(self, max_fields: int, max_chars: int) -> None:
        self.max_fields = max_fields
        self.max_chars = max_chars
        self._values: dict[str, list[str]] = {}
        self.dropped = 0

    def add(self, key: str, value: str | None) -> None:
        if value is None:
            return
        text = clip(value, self.max_chars)
        if not text:
            return
        key = clip(key, MAX_KEY_CHARS)
        values = self._values.get(key)
        if values is None:
            if len(self._values) >= self.max_fields:
                self.dropped += 1
                return
            self._values[key] = [text]
        elif text not in values and sum(len(v) for v in values) < self.max_chars:
            values.append(text)

    def first(self, *keys: str) -> str | None:
        for key in keys:
            values = self._values.get(key)
            if values:
                return values[0]
        return None

    def all(self, key: str) -> list[str]:
        return list(self._values.get(key, []))

    def to_dict(self) -> dict[str, str]:
        out = {key: clip(" | ".join(values), self.max_chars) for key, values in self._values.items()}
        if self.dropped:
            out["_dropped_fields"] = str(self.dropped)
        return out
