"""The registry's CLI commands: ``deepfake-detect retrain`` (``retrain status``: the latest gate
report; ``retrain time-gate``: how long the gate takes on this machine) and ``deepfake-detect
rollback`` (registered on the main parser by ``add_commands``)."""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path
from typing import Any

from tqdm import tqdm

from deepfake_detect.cli.progress import ProgressBar
from deepfake_detect.registry.base import ModelRecord, ModelRegistry, ModelStatus, RegistryError
from deepfake_detect.settings import get_settings

EXIT_OK, EXIT_NOT_PROMOTED, EXIT_USAGE = 0, 1, 2


def _say(text: str) -> None:
    tqdm.write(text, file=sys.stderr)


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def _metrics_line(label: str, metrics: Any) -> str:
    if metrics is None:
        return f"  {label:<9} -"
    return (
        f"  {label:<9} AUC {_num(metrics.auc)}  TPR {_num(metrics.tpr)}  FPR {_num(metrics.fpr)} "
        f"at threshold {metrics.threshold:.4f}  "
        f"({metrics.n_real} real, {metrics.n_fake} fake, {metrics.n_skipped} without a face)"
    )


def _settings(args: argparse.Namespace) -> Any:
    settings = get_settings()
    if getattr(args, "data_dir", None) is not None:
        settings = settings.model_copy(update={"data_dir": args.data_dir})
    return settings


def retrain(args: argparse.Namespace) -> int:
    if args.action == "status":
        return retrain_status(args)
    if args.action == "time-gate":
        return time_gate(args)
    from deepfake_detect.local.retrain import run_local_retrain
    from deepfake_detect.registry.evaluate import GateSetError

    settings = _settings(args)
    bar = ProgressBar("gate", "file", enabled=not args.no_progress and sys.stderr.isatty())
    try:
        record = run_local_retrain(
            settings,
            candidate=args.candidate,
            gate_dir=args.gate_dir,
            train_args=shlex.split(args.train_args or ""),
            say=_say,
            gate_progress=bar,
        )
    except (GateSetError, RegistryError, FileNotFoundError) as exc:
        print(f"deepfake-detect: {exc}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        bar.close()
    decision = record.decision
    if decision is not None and decision.candidate is not None:
        print(f"gate (current model: {decision.current_version or 'none'}):")
        print(_metrics_line("current", decision.current))
        for comparison in decision.comparisons:
            if comparison.role != "live":
                print(_metrics_line(comparison.role, comparison.reference))
        print(_metrics_line("candidate", decision.candidate))
    reasons = "; ".join(decision.reasons) if decision else record.failure_reason
    if record.failure_reason and decision is not None:
        reasons = f"{reasons}; {record.failure_reason}"
    print(f"{record.status.value}: model {record.version}: {reasons}")
    if record.report:
        print(f"report: {record.report} (deepfake-detect retrain status --version {record.version})")
    return EXIT_OK if record.status is ModelStatus.PROMOTED else EXIT_NOT_PROMOTED


def retrain_status(args: argparse.Namespace) -> int:
    """The latest candidate (or ``--version``): its record and the gate's report."""
    try:
        registry = _registry(args)
        current = registry.current()
        if args.version:
            record = registry.get_record(args.version)
            if record is None:
                raise RegistryError(f"no model version {args.version!r} in the registry")
        else:
            candidates = [r for r in registry.records() if r.status is not ModelStatus.BASELINE]
            if not candidates:
                print(f"current model: {current.version if current else 'none'}; no retraining recorded")
                return EXIT_OK
            record = candidates[0]
        report = registry.load_report(record)
    except RegistryError as exc:
        print(f"deepfake-detect: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(f"current model: {current.version if current else 'none'}")
    when = (record.finished_at or record.started_at or record.created_at).strftime("%Y-%m-%d %H:%M")
    print(f"model {record.version}: {record.status.value} ({when}; job {record.job_name or '-'})")
    if record.failure_reason:
        print(f"  {record.failure_reason}")
    if report is not None:
        print(f"report: {record.report}")
        print(report, end="")
    elif record.decision is not None:
        print("reasons:")
        for reason in record.decision.reasons:
            print(f"  - {reason}")
    elif record.status is ModelStatus.TRAINING:
        print("  training, or awaiting its gate")
    return EXIT_OK


def time_gate(args: argparse.Namespace) -> int:
    """Score the bounded gate set once with the shipped model and project the gate's time: three
    models (candidate, live, best ever) against ``gate_time_budget_s``."""
    from deepfake_detect.core.formats import VIDEO_EXTENSIONS
    from deepfake_detect.core.pipeline import ScanPipeline
    from deepfake_detect.local.retrain import gate_set
    from deepfake_detect.registry.evaluate import GateSetError

    settings = _settings(args)
    try:
        gate = gate_set(settings, args.gate_dir)
    except GateSetError as exc:
        print(f"deepfake-detect: {exc}", file=sys.stderr)
        return EXIT_USAGE
    pipeline = ScanPipeline(settings.pipeline())
    pipeline.analyze(gate.files[0][0])  # warm-up: sessions and the first allocation are not per file
    seconds: dict[str, list[float]] = {"image": [], "video": []}
    for path, _ in gate.files:
        start = time.perf_counter()
        pipeline.analyze(path)
        kind = "video" if path.suffix.lower() in VIDEO_EXTENSIONS else "image"
        seconds[kind].append(time.perf_counter() - start)
    one = sum(sum(v) for v in seconds.values())
    budget = settings.training.gate_time_budget_s
    print(
        f"gate set: {gate.info()} (bounds: {settings.training.gate_max_per_class} per class, "
        f"{settings.training.gate_max_videos_per_class} videos)"
    )
    for kind, values in seconds.items():
        if values:
            print(
                f"  {kind}s: {len(values)}, mean {1000 * sum(values) / len(values):.0f} ms, "
                f"max {1000 * max(values):.0f} ms per file per model"
            )
    print(
        f"one model: {one:.1f} s; the gate (3 models): {3 * one:.1f} s; budget {budget:.0f} s: "
        f"{'fits' if 3 * one <= budget else 'DOES NOT FIT'} ({budget / max(3 * one, 1e-9):.1f}x)"
    )
    return EXIT_OK if 3 * one <= budget else EXIT_NOT_PROMOTED


def _registry(args: argparse.Namespace) -> ModelRegistry:
    settings = _settings(args)
    if args.aws:
        from deepfake_detect.aws.adapters.registry import AwsModelRegistry

        return AwsModelRegistry.from_settings(settings)
    from deepfake_detect.local.registry import LocalModelRegistry

    return LocalModelRegistry(settings.registry_path)


def _row(record: ModelRecord, current: str | None) -> str:
    decision = record.decision
    candidate = record.gate or (decision.candidate if decision else None)
    auc = f"{candidate.auc:.4f}" if candidate and candidate.auc is not None else "-"
    fpr = f"{candidate.fpr:.4f}" if candidate and candidate.fpr is not None else "-"
    mark = "*" if record.version == current else " "
    when = (record.promoted_at or record.created_at).strftime("%Y-%m-%d %H:%M")
    return f"{mark} {record.version:<24} {record.status.value:<12} {when}  AUC {auc:>6}  FPR {fpr:>6}"


def rollback(args: argparse.Namespace) -> int:
    from deepfake_detect.registry.promote import rollback as roll_back

    try:
        registry = _registry(args)
        if args.list:
            current = registry.current()
            for record in registry.records():
                print(_row(record, current.version if current else None))
            return EXIT_OK
        previous, now = roll_back(registry, args.to)
    except RegistryError as exc:
        print(f"deepfake-detect: {exc}", file=sys.stderr)
        return EXIT_USAGE
    where = "the SSM parameter" if args.aws else "the local registry"
    print(f"rolled back {where}: {previous.version} -> {now.version}")
    return EXIT_OK


def add_commands(commands: Any) -> None:
    """Register ``retrain`` and ``rollback`` on the CLI's sub-command parsers."""
    p = commands.add_parser(
        "retrain",
        help="train, gate and promote a new classifier on this machine",
        description="Export reviewer-labelled files, train a candidate (python -m training.train), "
        "score it, the current model and the best model ever promoted on the gate set, and promote "
        "it only if it is not worse than either: at each model's card threshold, the paired "
        "bootstrap interval of the TPR and FPR differences within the gate's margins, AUC and ECE "
        "too, with enough real and fake gate files. `retrain status` shows the latest decision and "
        "its report; `retrain time-gate` measures the gate's time on this machine.",
        epilog="exit status: 0 promoted, 1 rejected or training failed, 2 no gate set or bad registry",
    )
    p.add_argument(
        "action",
        nargs="?",
        choices=("status", "time-gate"),
        help="status: the latest candidate's record and gate report; time-gate: time the gate set",
    )
    p.add_argument("--version", help="status: this model version instead of the latest")
    p.add_argument(
        "--aws", action="store_true", help="status: the deployed stack's registry (as rollback --aws)"
    )
    p.add_argument(
        "--gate-dir",
        type=Path,
        help="gate set with real/ and fake/ folders (default: setting gate_dir, <data_dir>/gate)",
    )
    p.add_argument(
        "--candidate",
        type=Path,
        help="skip training: gate this model (a folder with the .onnx and its .json card, "
        "or a SageMaker model.tar.gz)",
    )
    p.add_argument("--train-args", help='extra flags for training, e.g. "--epochs 1 --device cuda"')
    p.add_argument("--data-dir", type=Path, help="where uploads, feedback and the registry live")
    p.add_argument("--no-progress", action="store_true", help="never show progress bars")
    p.set_defaults(handler=retrain)

    p = commands.add_parser(
        "rollback",
        help="point the service back at an earlier promoted model",
        description="Rolls the model pointer back to the model promoted before the current one "
        "(or --to VERSION). Locally the registry's pointer file; with --aws the SSM "
        "parameter the detect functions read (they follow within model_refresh_s).",
    )
    p.add_argument("--to", metavar="VERSION", help="the version to serve (default: the previous one)")
    p.add_argument(
        "--aws",
        action="store_true",
        help="the deployed stack's registry (needs DEEPFAKE_AWS_MODELS_BUCKET, DEEPFAKE_AWS_MODELS_TABLE, "
        "DEEPFAKE_AWS_MODEL_PARAMETER and AWS credentials)",
    )
    p.add_argument("--list", action="store_true", help="list the registry's models instead (* = current)")
    p.set_defaults(handler=rollback)
