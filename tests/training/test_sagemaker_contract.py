"""The training image's contract with SageMaker, run the way SageMaker runs it.

``python -m training.train`` starts with no arguments and no SM_* or DEEPFAKE_* variable, in a
process whose /opt/ml is a fake job tree (a private mount namespace binds a temporary folder
there): hyperparameters in input/config, the ``shared`` and ``feedback`` channels in input/data.
The model and its card must land in /opt/ml/model, the report in /opt/ml/output/data, a
checkpoint in /opt/ml/checkpoints, and nothing in the checkout (models/, var/, .cache/) or $HOME.
A job without data must fail with a one-line reason in /opt/ml/output/failure.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from deepfake_detect.core.hashing import file_sha256
from deepfake_detect.core.model_card import ModelCard

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
WATCHED = ("models", "var", ".cache")  # where a confused job would write in the checkout


def can_fake_opt_ml() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "--mount", "--map-root-user", "sh", "-c", "mount -t tmpfs tmpfs /opt"],
        capture_output=True,
        timeout=30,
    )
    return probe.returncode == 0


# Importing onnxruntime writes a device id under $HOME/.cache whatever the program does.
LIBRARY_CACHE = (".cache/Microsoft/DeveloperTools",)


def snapshot(*roots: Path) -> dict[str, tuple[int, int]]:
    files: dict[str, tuple[int, int]] = {}
    for root in roots:
        for path in root.rglob("*") if root.is_dir() else []:
            if path.is_file() and not any(part in path.as_posix() for part in LIBRARY_CACHE):
                stat = path.stat()
                files[str(path)] = (stat.st_mtime_ns, stat.st_size)
    return files


def run_job(opt_ml: Path, home: Path, scratch: Path) -> subprocess.CompletedProcess[str]:
    """The image's `train` program, seeing ``opt_ml`` as /opt/ml and an environment like the image's."""
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "TMPDIR": str(scratch),
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
    }
    # /opt gets a private tmpfs first so that creating the mount point needs no rights on the host.
    script = f'mount -t tmpfs tmpfs /opt && mkdir /opt/ml && mount --bind "{opt_ml}" /opt/ml && '
    script += f'exec "{sys.executable}" -m training.train'
    return subprocess.run(
        ["unshare", "--mount", "--map-root-user", "sh", "-c", script],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def job_tree(root: Path, hyperparameters: dict[str, str]) -> Path:
    (root / "input" / "config").mkdir(parents=True)
    (root / "input" / "config" / "hyperparameters.json").write_text(json.dumps(hyperparameters))
    (root / "input" / "data" / "shared").mkdir(parents=True)
    for folder in ("model", "output", "checkpoints"):
        (root / folder).mkdir()
    return root


@pytest.fixture
def sandbox(tmp_path: Path) -> tuple[Path, Path]:
    if not can_fake_opt_ml():
        pytest.skip("needs unprivileged user and mount namespaces (unshare) to fake /opt/ml")
    home, scratch = tmp_path / "home", tmp_path / "scratch"
    home.mkdir()
    scratch.mkdir()
    return home, scratch


def test_a_job_writes_where_sagemaker_looks_and_nowhere_else(
    shared_dir: Path, tmp_path: Path, sandbox: tuple[Path, Path]
) -> None:
    home, scratch = sandbox
    root = job_tree(
        tmp_path / "opt-ml",
        {
            "epochs": "1",
            "samples_per_epoch": "64",
            "limit_per_source": "16",
            "batch_size": "8",
            "input_size": "64",
            "workers": "0",
            "version": "contract-test",
        },
    )
    channel = root / "input" / "data" / "shared"
    for folder in ("data", "models"):
        (channel / folder).symlink_to(shared_dir / folder)
    # One reviewer label in the feedback channel, as the feedback export writes it.
    feedback = root / "input" / "data" / "feedback"
    (feedback / "media").mkdir(parents=True)
    photo = sorted((shared_dir / "data" / "web_photos").rglob("*.jpg"))[0]
    shutil.copyfile(photo, feedback / "media" / "r1.jpg")
    with (feedback / "labels.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["file", "label", "result_id", "reviewer", "labelled_at", "model_version", "score"])
        writer.writerow(["media/r1.jpg", "fake", "r1", "ana", "2026-11-30T00:00:00+00:00", "v1", "0.2"])

    watched = [REPO / name for name in WATCHED] + [home]
    before = snapshot(*watched)
    job = run_job(root, home, scratch)
    assert job.returncode == 0, job.stderr[-3000:]

    model = root / "model" / "deepfake_classifier.onnx"
    assert sorted(p.name for p in (root / "model").iterdir()) == [
        "deepfake_classifier.json",
        "deepfake_classifier.onnx",
    ]
    card = ModelCard.load(model.with_suffix(".json"))
    assert card.version == "contract-test" and card.sha256 == file_sha256(model)
    assert card.training["epochs"] == 1 and card.training["samples_per_epoch"] == 64  # from the JSON
    assert isinstance(card.training_data, dict)
    assert card.training_data["feedback"]["labels"] == 1
    assert card.training_data["feedback"]["train_faces"] == 1
    assert card.training_data["faces_by_source"]["feedback"] == {"train": 1, "val": 0, "test": 0}
    assert list((root / "checkpoints").glob("checkpoint_*.pt"))
    assert (root / "output" / "data" / "train_report.json").is_file()
    assert not (root / "output" / "failure").exists()
    assert snapshot(*watched) == before, "the job wrote outside /opt/ml and its scratch space"


def test_a_job_without_data_fails_with_a_reason_sagemaker_shows(
    tmp_path: Path, sandbox: tuple[Path, Path]
) -> None:
    home, scratch = sandbox
    root = job_tree(tmp_path / "opt-ml", {"epochs": "1"})
    job = run_job(root, home, scratch)
    assert job.returncode == 1
    reason = (root / "output" / "failure").read_text()
    assert "training data not found" in reason and reason.count("\n") == 1
    assert not list((root / "model").iterdir())
