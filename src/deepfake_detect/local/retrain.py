"""``deepfake-detect retrain``: the cloud's train -> gate -> promote sequence on this machine, against
the local stores (feedback and media under ``data_dir``) and the local registry.

Training runs ``python -m training.train`` in a child process (torch stays out of this process);
its output folder is the candidate, gated and promoted exactly as the Lambda trigger does it:
the same gate policy (``TrainingSettings.gate_*``), the same bounded gate set, the same
``reconcile`` of a promotion an earlier run left half done, the report beside the candidate in
``<registry>/jobs/<version>/gate-report.{json,txt}`` (``deepfake-detect retrain status``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path

from deepfake_detect.local.feedback import SQLiteFeedbackStore
from deepfake_detect.local.registry import LocalModelRegistry
from deepfake_detect.local.stores import LocalMediaStore
from deepfake_detect.registry.base import ModelRecord, ModelStatus, job_version, utc_now
from deepfake_detect.registry.evaluate import GateSet, PipelineEvaluator
from deepfake_detect.registry.feedback import ExportSummary, export_channel
from deepfake_detect.registry.gate import ArtifactError, find_model, unpack_artifact
from deepfake_detect.registry.promote import adopt_baseline, gate_and_promote, reconcile, reject
from deepfake_detect.settings import Settings

# say(text): a stage line for the user; gate_progress(done, total): per gate file.
Say = Callable[[str], None]
GateProgress = Callable[[int, int], None]


def feedback_channel(settings: Settings) -> Path:
    return settings.registry_path / "feedback"


def export_local_feedback(settings: Settings) -> ExportSummary:
    store = SQLiteFeedbackStore(settings.data_dir / "feedback.sqlite3")
    try:
        return export_channel(
            store, LocalMediaStore(settings.data_dir / "media"), LocalMediaStore(feedback_channel(settings))
        )
    finally:
        store.close()


def train_candidate(settings: Settings, version: str, out: Path, train_args: Sequence[str], say: Say) -> Path:
    """Run the training package into ``out``; returns the candidate's .onnx path."""
    command = [
        sys.executable,
        "-m",
        "training.train",
        "--output-dir",
        str(out),
        "--report-dir",
        str(out / "report"),
        "--version",
        version,
        *train_args,
    ]
    # The labelled channel reaches the trainer the way SageMaker hands it over.
    env = {**os.environ, "SM_CHANNEL_FEEDBACK": str(feedback_channel(settings))}
    say(f"training: {' '.join(command[1:])}")
    tail: deque[str] = deque(maxlen=20)
    with subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            tail.append(line.rstrip())
            say(f"  train | {line.rstrip()}")
    if process.returncode != 0:
        raise TrainingFailedError(f"training exited with status {process.returncode}: " + " / ".join(tail))
    return find_model(out)


class TrainingFailedError(RuntimeError):
    """The training run did not produce a model."""


def run_local_retrain(
    settings: Settings,
    *,
    candidate: Path | None = None,
    gate_dir: Path | None = None,
    train_args: Sequence[str] = (),
    say: Say = print,
    gate_progress: GateProgress | None = None,
) -> ModelRecord:
    """Train (or take ``candidate``: a folder or a model.tar.gz trained elsewhere), gate, promote."""
    gate = gate_set(settings, gate_dir)  # before any long work: fail early
    registry = LocalModelRegistry(settings.registry_path)
    try:
        for settled in reconcile(registry):
            say(f"registry: the half-done promotion of {settled.version} is now {settled.status.value}")
        if registry.current() is None and settings.classifier_path.is_file():
            baseline = adopt_baseline(registry, settings.classifier_path)
            say(f"registry: the shipped model {baseline.version} is the current model")
        now = utc_now()
        version = job_version(now)
        say("1/3 export: reviewer-labelled files -> training channel")
        exported = export_local_feedback(settings)
        say(
            f"    {exported.labelled} labelled file(s), {exported.copied} new, "
            f"{len(exported.missing)} missing media"
        )
        record = ModelRecord(
            version=version,
            status=ModelStatus.TRAINING,
            job_name=f"local-{version}",
            created_at=now,
            started_at=now,
            data={
                "feedback": exported.as_dict(),
                "gate_set": str(gate_dir or settings.gate_path),
                "train_args": list(train_args),
                "candidate": str(candidate) if candidate else None,
            },
        )
        registry.put_record(record)
        out = settings.registry_path / "jobs" / version
        record.artifact = str(candidate or out)
        try:
            if candidate is None:
                say("2/3 train")
                onnx_path = train_candidate(settings, version, out, train_args, say)
            else:
                say(f"2/3 train: skipped, using the candidate {candidate}")
                onnx_path = unpack_artifact(candidate, out) if candidate.is_file() else find_model(candidate)
        except TrainingFailedError as exc:
            record.status, record.failure_reason, record.finished_at = ModelStatus.FAILED, str(exc), utc_now()
            registry.put_record(record)
            return record
        except ArtifactError as exc:
            return reject(registry, record, [str(exc)])
        say(
            f"3/3 gate: candidate {version} against the current model and the best model ever "
            f"promoted, on {gate.count(0)} real and {gate.count(1)} fake gate files"
        )
        # No deadline here (nothing caps a local run); the gate set has the same bounds as in AWS.
        evaluator = PipelineEvaluator(settings.pipeline(), gate, progress=gate_progress)
        return gate_and_promote(
            registry, record, onnx_path, evaluator, policy=settings.training.gate.policy()
        )
    finally:
        registry.close()


def gate_set(settings: Settings, gate_dir: Path | None = None) -> GateSet:
    """The gate set with the same bounds as in AWS."""
    return GateSet.from_folder(
        gate_dir or settings.gate_path,
        max_per_class=settings.training.gate_max_per_class,
        max_videos_per_class=settings.training.gate_max_videos_per_class,
    )
