"""The before/after table: every slice with its n, both models' values, nothing pooled."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from training import compare


def _report(version: str, fpr: float, caught: float) -> dict[str, object]:
    return {
        "split": "test",
        "model": {"version": version},
        "image_level": {
            "real_fpr_by_source": {"london": {"n": 44, "fpr": fpr}},
            "by_method": {
                "flux": {
                    "vs_all_reals": {"n_fake": 54, "tpr": caught},
                    "vs_photo_reals": {"n_real": 236, "auc": 0.9},
                }
            },
            "overall": {"ece": 0.04},
        },
    }


def test_each_slice_has_its_n_and_both_values(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before, after = tmp_path / "before.json", tmp_path / "after.json"
    before.write_text(json.dumps(_report("v2", 0.1, 0.13)))
    after.write_text(json.dumps(_report("v3", 0.02, 0.85)))
    assert compare.main([str(before), str(after)]) == 0
    text = capsys.readouterr().out
    assert "| measure (test split) | before (v2) | after (v3) |" in text
    assert "| london reals called fake (faces, n=44) | 10.0 % | 2.0 % |" in text
    assert "| flux caught (n=54) | 13.0 % | 85.0 % |" in text


def test_reports_of_different_splits_are_refused(tmp_path: Path) -> None:
    before, after = tmp_path / "before.json", tmp_path / "after.json"
    before.write_text(json.dumps(_report("v2", 0.1, 0.1)))
    after.write_text(json.dumps({**_report("v3", 0.1, 0.1), "split": "val"}))
    with pytest.raises(SystemExit):
        compare.main([str(before), str(after)])


def _folder(root: Path, version: str, caught: float, flipped: float) -> Path:
    root.mkdir()
    (root / "evaluation.json").write_text(json.dumps(_report(version, 0.02, caught)))
    (root / "evasion.json").write_text(
        json.dumps(
            {
                "crop_level": {
                    "by_slice": {
                        "sdfd:fake": {
                            "n": 63,
                            "rate": "catch_rate",
                            "original": caught,
                            "bold_text": caught / 2,
                        }
                    }
                }
            }
        )
    )
    (root / "attacks.json").write_text(
        json.dumps(
            {
                "white_box": {
                    "fakes": {"pgd_eps2": {"n": 24, "onnx": {"not_fake": flipped}}},
                    "reals": {"pgd_eps2": {"n": 18, "onnx": {"fake": 1.0}}},
                }
            }
        )
    )
    return root


def test_report_folders_add_the_evasion_and_attack_rows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _folder(tmp_path / "v3", "v3", 0.86, 1.0)
    after = _folder(tmp_path / "hardened", "hardened", 0.84, 0.4)
    assert compare.main([str(before), str(after)]) == 0
    text = capsys.readouterr().out
    assert "| sdfd:fake bold_text, called fake (n=63) | 43.0 % | 42.0 % |" in text
    assert "| pgd_eps2: caught fakes no longer fake (n=24 / 24) | 100.0 % | 40.0 % |" in text
    assert "| pgd_eps2: clean reals pushed to fake (n=18 / 18) | 100.0 % | 100.0 % |" in text
