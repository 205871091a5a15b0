"""The one entry point reads SageMaker's environment and hyperparameters file when present."""

from __future__ import annotations

import json

from deepfake_detect.settings import Settings
from training.config import parse_config


def test_cli_defaults_without_sagemaker(monkeypatch, tmp_path):
    for name in ("SM_CHANNEL_SHARED", "SM_MODEL_DIR", "SM_OUTPUT_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SM_HYPERPARAMETERS_PATH", str(tmp_path / "absent.json"))
    settings = Settings()
    cfg = parse_config(["--epochs", "2", "--device", "cpu"], settings)
    assert cfg.epochs == 2 and cfg.device == "cpu"
    assert cfg.output_dir == settings.models_dir and cfg.shared_dir == settings.shared_dir


def test_sagemaker_environment_and_hyperparameters(monkeypatch, tmp_path):
    hyper = tmp_path / "hyperparameters.json"
    # SageMaker writes every value as a string
    hyper.write_text(json.dumps({"epochs": "5", "input_size": "192", "lr": "0.0003", "pretrained": "false"}))
    monkeypatch.setenv("SM_HYPERPARAMETERS_PATH", str(hyper))
    monkeypatch.setenv("SM_CHANNEL_SHARED", str(tmp_path / "shared"))
    monkeypatch.setenv("SM_MODEL_DIR", str(tmp_path / "model"))
    monkeypatch.setenv("SM_OUTPUT_DATA_DIR", str(tmp_path / "output"))
    cfg = parse_config(["--epochs", "6"], Settings())
    assert cfg.input_size == 192 and cfg.lr == 0.0003 and cfg.pretrained is False
    assert cfg.epochs == 6  # an explicit argument still wins over the file
    assert cfg.shared_dir == tmp_path / "shared" and cfg.data_dir == tmp_path / "shared" / "data"
    assert cfg.output_dir == tmp_path / "model" and cfg.report_dir == tmp_path / "output"


def test_sagemaker_layout_without_any_variable(tmp_path):
    """A job whose image has no SageMaker toolkit sets no SM_* variables: the /opt/ml layout alone
    decides where data comes from and where the model goes."""
    from training.config import SageMakerEnv

    root = tmp_path / "opt" / "ml"
    (root / "input" / "config").mkdir(parents=True)
    (root / "input" / "config" / "hyperparameters.json").write_text(json.dumps({"epochs": "1"}))
    sagemaker = SageMakerEnv.detect({}, root)
    cfg = parse_config([], Settings(), sagemaker)
    assert cfg.epochs == 1
    assert cfg.shared_dir == root / "input" / "data" / "shared" and cfg.output_dir == root / "model"
    assert cfg.report_dir == root / "output" / "data"
    assert cfg.checkpoint_dir == root / "checkpoints"
    outside = SageMakerEnv.detect({}, tmp_path / "nothing")
    assert (outside.shared, outside.model_dir, outside.output_data, outside.checkpoints) == (None,) * 4
