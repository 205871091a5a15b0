"""Before/after table of two evaluations on the same split (``evaluation.json`` of
``python -m training.evaluate``), in Markdown: per source, per held-out family, per group,
robustness and files. Every row carries its sample size; nothing is pooled across sources.

    python -m training.compare var/eval-v2/evaluation.json var/eval-v3/evaluation.json
    python -m training.compare var/val-v3 var/val-hardened      # report folders

Given report folders, the evasion (``evasion.json`` of ``training.evasion``) and attack
(``attacks.json`` of ``training.attacks``) tables are compared too where both folders have them.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

Report = dict[str, Any]
Row = tuple[str, Callable[[Report], Any]]


def _pct(value: Any) -> str:
    return "-" if value is None else f"{100 * float(value):.1f} %"


def _num(value: Any) -> str:
    return "-" if value is None else f"{float(value):.3f}"


def _get(report: Report, *path: str) -> Any:
    node: Any = report
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def _n(before: Report, after: Report, *path: str) -> str:
    value = _get(after, *path) if _get(after, *path) is not None else _get(before, *path)
    return "?" if value is None else str(value)


def rows(before: Report, after: Report) -> Iterator[tuple[str, str, str]]:
    """(measure with n, before, after) for every slice either report has."""
    il = "image_level"
    sources = sorted(
        set(_get(before, il, "real_fpr_by_source") or {}) | set(_get(after, il, "real_fpr_by_source") or {})
    )
    for source in sources:
        n = _n(before, after, il, "real_fpr_by_source", source, "n")
        yield (
            f"{source} reals called fake (faces, n={n})",
            _pct(_get(before, il, "real_fpr_by_source", source, "fpr")),
            _pct(_get(after, il, "real_fpr_by_source", source, "fpr")),
        )
    for source in ("deepface", "london", "web_photos"):
        path = ("file_level", "real_photo_files_called_fake", source)
        n = _n(before, after, *path, "files_with_face")
        yield (
            f"{source} real photo files called fake (n={n})",
            _pct(_get(before, *path, "called_fake")),
            _pct(_get(after, *path, "called_fake")),
        )
    methods = sorted(set(_get(before, il, "by_method") or {}) | set(_get(after, il, "by_method") or {}))
    for method in methods:
        block = (il, "by_method", method, "vs_all_reals")
        n = _n(before, after, *block, "n_fake")
        yield (
            f"{method} caught (n={n})",
            _pct(_get(before, *block, "tpr")),
            _pct(_get(after, *block, "tpr")),
        )
        photo = (il, "by_method", method, "vs_photo_reals")
        yield (
            f"{method} vs real photos, AUC (n={n} vs {_n(before, after, *photo, 'n_real')})",
            _num(_get(before, *photo, "auc")),
            _num(_get(after, *photo, "auc")),
        )
    for attribute in ("gender", "ethnicity", "age_band"):
        values = sorted(
            set(_get(before, il, "london_fpr", attribute) or {})
            | set(_get(after, il, "london_fpr", attribute) or {})
        )
        for value in values:
            london: tuple[str, ...] = (il, "london_fpr", attribute, value)
            yield (
                f"London {attribute} {value} called fake (n={_n(before, after, *london, 'n')})",
                _pct(_get(before, *london, "called_fake")),
                _pct(_get(after, *london, "called_fake")),
            )
    for attribute in ("gender", "race", "age_band"):
        values = sorted(
            set(_get(before, il, "utkface_fpr", attribute) or {})
            | set(_get(after, il, "utkface_fpr", attribute) or {})
        )
        for value in values:
            utk: tuple[str, ...] = (il, "utkface_fpr", attribute, value)
            yield (
                f"UTKFace {attribute} {value} called fake (n={_n(before, after, *utk, 'n')})",
                _pct(_get(before, *utk, "fpr")),
                _pct(_get(after, *utk, "fpr")),
            )
    groups = sorted(set(_get(before, "robustness") or {}) | set(_get(after, "robustness") or {}))
    for group in groups:
        row = _get(after, "robustness", group) or _get(before, "robustness", group)
        edits = [k for k in row if k not in ("n", "rate")]

        def line(report: Report, group: str = group, edits: list[str] = edits) -> str:
            values = [_get(report, "robustness", group, e) for e in edits]
            return " / ".join("-" if v is None else f"{100 * v:.0f}" for v in values)

        yield (f"{group} {row['rate']} % ({' / '.join(edits)}; n={row['n']})", line(before), line(after))
    yield (
        "FaceForensics++ videos on the right side",
        f"{_get(before, 'file_level', 'videos_on_right_side')} / {_get(before, 'file_level', 'videos')}",
        f"{_get(after, 'file_level', 'videos_on_right_side')} / {_get(after, 'file_level', 'videos')}",
    )
    yield (
        f"ECE, all {after.get('split', '?')} faces",
        _num(_get(before, il, "overall", "ece")),
        _num(_get(after, il, "overall", "ece")),
    )


def evasion_rows(before: Report, after: Report) -> Iterator[tuple[str, str, str]]:
    """Per slice and crop edit: the share called fake (catch rate or false positives)."""
    by_slice: tuple[str, ...] = ("crop_level", "by_slice")
    for name in sorted(set(_get(before, *by_slice) or {}) & set(_get(after, *by_slice) or {})):
        row = _get(after, *by_slice, name)
        for edit in [k for k in row if k not in ("n", "rate", "called_real")]:
            yield (
                f"{name} {edit}, called fake (n={row['n']})",
                _pct(_get(before, *by_slice, name, edit)),
                _pct(_get(after, *by_slice, name, edit)),
            )


def attack_rows(before: Report, after: Report) -> Iterator[tuple[str, str, str]]:
    """Per white-box attack: caught fakes no longer fake, and clean reals pushed to fake (ONNX,
    8-bit pixels). Each model is attacked on the fakes it catches itself."""
    for side, outcome, words in (
        ("fakes", "not_fake", "caught fakes no longer fake"),
        ("reals", "fake", "clean reals pushed to fake"),
    ):
        attacks = sorted(
            set(_get(before, "white_box", side) or {}) & set(_get(after, "white_box", side) or {})
        )
        for attack in attacks:
            path = ("white_box", side, attack)
            yield (
                f"{attack}: {words} (n={_get(before, *path, 'n')} / {_get(after, *path, 'n')})",
                _pct(_get(before, *path, "onnx", outcome)),
                _pct(_get(after, *path, "onnx", outcome)),
            )


def table(before: Report, after: Report) -> str:
    head = [
        f"| measure ({after.get('split', '?')} split) | before ({_get(before, 'model', 'version')}) "
        f"| after ({_get(after, 'model', 'version')}) |",
        "|---|---|---|",
    ]
    lines = [f"| {m} | {b} | {a} |" for m, b, a in rows(before, after)]
    for part, make in (("evasion", evasion_rows), ("attacks", attack_rows)):
        if part in before and part in after:
            lines += [f"| {m} | {b} | {a} |" for m, b, a in make(before[part], after[part])]
    return "\n".join(head + lines)


def load(path: Path) -> Report:
    """An ``evaluation.json``, or a report folder: its evaluation with the folder's evasion and
    attack reports attached (as ``evasion`` and ``attacks``) where present."""
    if not path.is_dir():
        return dict(json.loads(path.read_text()))
    report: Report = json.loads((path / "evaluation.json").read_text())
    for part in ("evasion", "attacks"):
        if (path / f"{part}.json").is_file():
            report[part] = json.loads((path / f"{part}.json").read_text())
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.compare", description=__doc__)
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    before, after = load(args.before), load(args.after)
    if before.get("split") != after.get("split"):
        parser.error(f"different splits: {before.get('split')} and {after.get('split')}")
    print(table(before, after))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
