"""Can the gate tell? Run the registry's gate on a gate set sized to its margins, for candidates
whose answer is known: a reproduction of a recipe must pass, a deliberately worse model must fail.

    python -m training.gate_check \\
        --candidate reproduction=<fresh clone>/models/deepfake_classifier.onnx \\
        --candidate one_epoch=<python -m training.train --epochs 1's output>/deepfake_classifier.onnx \\
        --record tests/training/recorded/gate_check.json

(docs/retrain.md, "Can the gate tell? Measured", has the full command and its results.)

The gate set is built from the test split of the training manifest (files the training never
saw; the split is by person and, for today's fakes, by generator family) as ``real/<source>/`` and
``fake/<source>/`` links into ``../shared/data``, about ``--per-class`` files a class. Every source
is kept as a slice: the small ones whole (today's generators and swap tools, the studio and web
photos), the two large ones (DFDC, UTKFace) filling the rest in a fixed order. Each model is scored
through the service's pipeline (``registry.evaluate.PipelineEvaluator``, as the trigger does) and
the candidate is judged by ``registry.gate.decide`` against the reference with the deployment's
policy (``Settings().training.gate``). The report gives the decision, the intervals and each
slice's rates per model; ``--record`` writes the per-file scores the unit test replays the gate on
(``tests/training/test_gate_check.py``). Scores are cached per model sha256 in the output folder.

This measures the gate, not a model: it chooses nothing. A deployment's own gate set should be its
own held-out media, not this split.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import logging
import shutil
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

from deepfake_detect.core.classifier import Classifier
from deepfake_detect.core.constants import CLASSIFIER_FILE, DETECTOR_FILE
from deepfake_detect.core.hashing import file_sha256
from deepfake_detect.registry.evaluate import GateSet, PipelineEvaluator
from deepfake_detect.registry.gate import GatePolicy, ModelScores, Reference, decide
from deepfake_detect.settings import Settings
from training.evaluate import split_spec
from training.manifest import CROP_PATH, Manifest, get_manifest

log = logging.getLogger(__name__)

CLASS_DIRS = {0: "real", 1: "fake"}
FIXTURE_VERSION = 1


def test_files(manifest: Manifest) -> dict[int, dict[str, list[str]]]:
    """The test split's files (not faces) per label and source, each file once."""
    files: dict[int, dict[str, set[str]]] = {0: defaultdict(set), 1: defaultdict(set)}
    for face in manifest.faces:
        if face.split == "test":
            files[face.label][face.source].add(face.key)
    return {label: {s: sorted(keys) for s, keys in by_source.items()} for label, by_source in files.items()}


def allocate(sizes: dict[str, int], total: int) -> dict[str, int]:
    """Files per source for ``total`` files of a class: the smallest sources whole, an equal share
    of what is left to each larger one (water-filling), so every slice keeps as many files as it can."""
    quota: dict[str, int] = {}
    left, sources = total, sorted(sizes, key=lambda s: (sizes[s], s))
    for i, source in enumerate(sources):
        share = left // (len(sources) - i)
        quota[source] = min(sizes[source], share)
        left -= quota[source]
    return quota


def _order(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def build_gate_set(
    manifest: Manifest, data_dir: Path, root: Path, per_class: int
) -> tuple[dict[str, Any], dict[str, str]]:
    """Write ``root/{real,fake}/<source>/<file>`` links; returns the slice sizes, and each gate
    file's path in the data folder by its name in the gate set."""
    shutil.rmtree(root, ignore_errors=True)  # links of an earlier run with other sizes must not stay
    slices: dict[str, Any] = {}
    keys: dict[str, str] = {}
    for label, by_source in test_files(manifest).items():
        quota = allocate({s: len(keys) for s, keys in by_source.items()}, per_class)
        for source, source_keys in sorted(by_source.items()):
            folder = root / CLASS_DIRS[label] / source
            folder.mkdir(parents=True, exist_ok=True)
            for key in sorted(source_keys, key=_order)[: quota[source]]:
                link = folder / key.replace("/", "__")
                keys[link.relative_to(root).as_posix()] = key
                link.symlink_to((data_dir / key).resolve())
            slices[f"{CLASS_DIRS[label]}/{source}"] = {"used": quota[source], "available": len(source_keys)}
    return slices, keys


def cached_scores(evaluator: PipelineEvaluator, onnx_path: Path, cache: Path) -> ModelScores:
    """The model's gate scores, read from ``cache`` when this file (by sha256) was scored before
    by a pipeline that reads faces the same way (``CROP_PATH``)."""
    path = cache / f"scores_{CROP_PATH}_{file_sha256(onnx_path)[:16]}.json"
    if path.is_file():
        fields: dict[str, Any] = {
            k: tuple(v) if isinstance(v, list) else v for k, v in json.loads(path.read_text()).items()
        }
        return ModelScores(**fields)
    scores = evaluator.evaluate(onnx_path)
    path.write_text(json.dumps(dataclasses.asdict(scores)))
    return scores


def judge(candidate: ModelScores, reference: ModelScores, policy: GatePolicy) -> dict[str, Any]:
    decision = decide(candidate, [Reference("live", reference.version, reference)], policy)
    return decision.model_dump(mode="json")


def fixture(
    models: dict[str, tuple[Path, ModelScores]], keys: dict[str, str], policy: GatePolicy
) -> dict[str, Any]:
    """The per-file scores a unit test replays the gate on, with what identifies each model."""
    first = next(iter(models.values()))[1]
    return {
        "fixture_version": FIXTURE_VERSION,
        "command": "python -m training.gate_check " + " ".join(sys.argv[1:]),
        "policy": policy.as_dict(),
        "files": list(first.files),
        "labels": list(first.labels),
        "data_paths": [keys[name] for name in first.files],  # inside ../shared/data
        "models": {
            name: {
                "sha256": file_sha256(path),
                "version": s.version,
                "threshold": s.threshold,
                "max_fpr": s.max_fpr,
                "scores": [None if v is None else round(v, 6) for v in s.scores],
            }
            for name, (path, s) in models.items()
        },
    }


def markdown(report: dict[str, Any]) -> str:
    """Each slice's rate for the reference and every candidate (with the paired interval of the
    difference), then each decision and its reasons."""
    decisions = report["decisions"]
    names = list(decisions)
    head = "| slice (n) | reference | " + " | ".join(f"{n}: rate, difference [95 % CI]" for n in names) + " |"
    lines = [head, "|---" * (len(names) + 2) + "|"]
    by_name = {
        n: {sl["name"]: sl for sl in decisions[n]["comparisons"][0]["slices"]}
        for n in names
        if decisions[n]["comparisons"]
    }
    first = next(iter(by_name.values()), {})
    for slice_name, row in first.items():
        cells = []
        for n in names:
            sl = by_name.get(n, {}).get(slice_name)
            if sl is None:
                cells.append("—")
                continue
            d = sl["delta"]
            flag = "" if sl["passed"] else " **worse**"
            cells.append(
                f"{100 * sl['candidate']:.1f} %, {100 * d['point']:+.1f} "
                f"[{100 * d['low']:+.1f}, {100 * d['high']:+.1f}]{flag}"
            )
        label = "caught" if row["metric"] == "tpr" else "called fake"
        lines.append(
            f"| {slice_name} ({row['n']}), {label} | {100 * row['reference']:.1f} % | "
            + " | ".join(cells)
            + " |"
        )
    for n in names:
        decision = decisions[n]
        lines.append(f"\n**{n}: {'promoted' if decision['promote'] else 'rejected'}.**")
        lines += [f"- {reason}" for reason in decision["reasons"]]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    settings = Settings()
    parser = argparse.ArgumentParser(
        prog="python -m training.gate_check",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--reference", type=Path, default=settings.models_dir / CLASSIFIER_FILE)
    parser.add_argument("--candidate", action="append", default=[], metavar="NAME=PATH", required=True)
    parser.add_argument("--shared-dir", type=Path, default=settings.shared_dir)
    parser.add_argument("--cache-dir", type=Path, default=settings.training.cache_dir)
    parser.add_argument("--output-dir", type=Path, default=settings.data_dir / "training" / "gate_check")
    parser.add_argument("--per-class", type=int, default=settings.training.gate_max_per_class)
    parser.add_argument("--record", type=Path, help="write the per-file scores for the unit test")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)

    candidates: dict[str, Path] = {}
    for item in args.candidate:
        name, sep, path = item.partition("=")
        if not sep or not name or not Path(path).is_file():
            parser.error(f"--candidate {item!r}: expected NAME=PATH of an .onnx file with its card")
        candidates[name] = Path(path)

    detector_path = settings.detector_path
    if not detector_path.is_file():
        detector_path = args.shared_dir / "models" / DETECTOR_FILE
    data_dir = args.shared_dir / "data"
    # The reference's own split: the files it never trained on.
    spec = split_spec(Classifier(args.reference))
    manifest = get_manifest(data_dir, args.cache_dir, detector_path, spec, None)
    root = args.output_dir / "gate_set"
    slices, keys = build_gate_set(manifest, data_dir, root, args.per_class)
    gate = GateSet.from_folder(root, max_per_class=args.per_class, max_videos_per_class=0)
    evaluator = PipelineEvaluator(settings.pipeline(), gate)
    policy = settings.training.gate.policy()

    models = {"reference": (args.reference, cached_scores(evaluator, args.reference, args.output_dir))}
    for name, path in candidates.items():
        log.info("scoring %s (%s) on %d gate files", name, path, len(gate.files))
        models[name] = (path, cached_scores(evaluator, path, args.output_dir))
    reference = models["reference"][1]
    report: dict[str, Any] = {
        "command": "python -m training.gate_check " + " ".join(sys.argv[1:] if argv is None else argv),
        "gate_set": {"root": str(root), **gate.info(), "slices": slices},
        "policy": policy.as_dict(),
        "models": {
            name: {
                "path": str(path),
                "version": s.version,
                "threshold": s.threshold,
                "overall": s.metrics(policy.max_fpr).model_dump(mode="json"),
            }
            for name, (path, s) in models.items()
        },
        "decisions": {name: judge(models[name][1], reference, policy) for name in candidates},
    }
    (args.output_dir / "gate_check.json").write_text(json.dumps(report, indent=2) + "\n")
    table = markdown(report)
    (args.output_dir / "gate_check.md").write_text(table)
    print(table)
    if args.record:
        args.record.parent.mkdir(parents=True, exist_ok=True)
        args.record.write_text(json.dumps(fixture(models, keys, policy), separators=(",", ":")) + "\n")
        log.info("wrote %s", args.record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
