"""Score photo files with whichever ``deepfake_detect`` is importable, then compare two runs: how
far a change to the pipeline (decoding, cropping) moved each file's score, per folder.

    .venv/bin/python scripts/score_files.py score --out var/scores-new.json ../shared/data/london ...
    git worktree add /tmp/old <commit>
    PYTHONPATH=/tmp/old/src .venv/bin/python scripts/score_files.py score --out var/scores-old.json ...
    .venv/bin/python scripts/score_files.py compare var/scores-old.json var/scores-new.json

The first run names the code it used (``deepfake_detect.__file__``), so a run on the wrong tree
shows. Photos only (jpg, jpeg, png, webp).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

PHOTOS = {".jpg", ".jpeg", ".png", ".webp"}


def score(out: Path, folders: list[Path]) -> None:
    import deepfake_detect
    from deepfake_detect.core import pipeline as module
    from deepfake_detect.settings import Settings

    if hasattr(module, "ScanPipeline"):
        pipeline = module.ScanPipeline(Settings().pipeline())
    else:  # a tree from before the pipeline took its own configuration (ae97d6c, the card's)
        pipeline = module.Detector(Settings())
    files = sorted(f for folder in folders for f in folder.rglob("*") if f.suffix.lower() in PHOTOS)
    scores: dict[str, float | None] = {}
    for number, path in enumerate(files, 1):
        result = pipeline.analyze(path).result
        scores[f"{path.parent.name}/{path.name}"] = result.score
        if number % 100 == 0:
            print(f"{number}/{len(files)}", file=sys.stderr)
    report = {"code": deepfake_detect.__file__, "threshold": pipeline.classifier.threshold, "scores": scores}
    out.write_text(json.dumps(report, indent=1))
    print(f"{len(scores)} files scored with {deepfake_detect.__file__} -> {out}")


def compare(before_path: Path, after_path: Path) -> None:
    before, after = json.loads(before_path.read_text()), json.loads(after_path.read_text())
    threshold = after["threshold"]
    rows: dict[str, list[tuple[float, str, float, float]]] = defaultdict(list)
    face_changed: list[str] = []
    for name, old in before["scores"].items():
        new = after["scores"].get(name)
        if (old is None) != (new is None):
            face_changed.append(f"{name}: {old} -> {new}")
        elif old is not None and new is not None:
            rows[name.split("/")[0]].append((new - old, name, old, new))
    print(f"before: {before['code']}\nafter:  {after['code']}\nthreshold {threshold}")
    print("| folder | files | largest change | mean abs change | verdicts changed |")
    print("|---|---|---|---|---|")
    for folder, items in sorted(rows.items()):
        largest = max(items, key=lambda r: abs(r[0]))
        flips = [r for r in items if (r[2] >= threshold) != (r[3] >= threshold)]
        mean_abs = sum(abs(r[0]) for r in items) / len(items)
        flipped = ", ".join(f"{r[1]} {r[2]:.3f}->{r[3]:.3f}" for r in flips)
        print(
            f"| {folder} | {len(items)} | {largest[0]:+.4f} ({largest[1]}) | {mean_abs:.4f} | "
            f"{len(flips)}{': ' + flipped if flips else ''} |"
        )
    print(f"files whose faces appeared or vanished: {len(face_changed)}")
    for line in face_changed:
        print(f"  {line}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("score", help="score every photo under the folders")
    run.add_argument("--out", type=Path, required=True)
    run.add_argument("folders", type=Path, nargs="+")
    diff = sub.add_parser("compare", help="compare two score files")
    diff.add_argument("before", type=Path)
    diff.add_argument("after", type=Path)
    args = parser.parse_args()
    if args.command == "score":
        score(args.out, args.folders)
    else:
        compare(args.before, args.after)


if __name__ == "__main__":
    main()
