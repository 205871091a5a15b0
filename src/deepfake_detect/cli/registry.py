"""The registry's CLI commands: ``deepfake-detect retrain`` and ``deepfake-detect rollback``
(registered on the main parser by ``add_commands``)."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import Any

from tqdm import tqdm

from deepfake_detect.cli.progress import ProgressBar
from deepfake_detect.registry.base import ModelRecord, ModelRegistry, ModelStatus, RegistryError
from deepfake_detect.settings import get_settings

EXIT_OK, EXIT_NOT_PROMOTED, EXIT_USAGE = 0, 1, 2


def _say(text: str) -> None:
    tqdm.write(text, file=sys.stderr)


def _metrics_line(label: str, metrics: Any) -> str:
    if metrics is None:
        return f"  {label:<9} -"
    auc = "-" if metrics.auc is None else f"{metrics.auc:.4f}"
    fpr = "-" if metrics.fpr is None else f"{metrics.fpr:.4f}"
    return (
        f"  {label:<9} AUC {auc}  FPR {fpr} at threshold {metrics.threshold:.4f}  "
        f"({metrics.n_real} real, {metrics.n_fake} fake, {metrics.n_skipped} without a face)"
    )


def retrain(args: argparse.Namespace) -> int:
    from deepfake_detect.local.retrain import run_local_retrain
    from deepfake_detect.registry.evaluate import GateSetError

    settings = get_settings()
    if args.data_dir is not None:
        settings = settings.model_copy(update={"data_dir": args.data_dir})
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
        print(_metrics_line("candidate", decision.candidate))
    reasons = "; ".join(decision.reasons) if decision else record.failure_reason
    print(f"{record.status.value}: model {record.version}: {reasons}")
    return EXIT_OK if record.status is ModelStatus.PROMOTED else EXIT_NOT_PROMOTED


def _registry(args: argparse.Namespace) -> ModelRegistry:
    settings = get_settings()
    if args.aws:
        from deepfake_detect.aws.registry import AwsModelRegistry

        return AwsModelRegistry.from_settings(settings)
    from deepfake_detect.local.registry import LocalModelRegistry

    return LocalModelRegistry(settings.registry_path)


def _row(record: ModelRecord, current: str | None) -> str:
    decision = record.decision
    candidate = decision.candidate if decision else None
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
        "evaluate it and the current model on the gate set, and promote it only if it is "
        "not worse (AUC not lower by more than the gate's margin, false positive rate "
        "at threshold not higher).",
        epilog="exit status: 0 promoted, 1 rejected or training failed, 2 no gate set or bad registry",
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
