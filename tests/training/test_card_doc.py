"""The model card document is rendered from the card's numbers, never typed by hand."""

from __future__ import annotations

from pathlib import Path

import pytest

from deepfake_detect.core.model_card import ModelCard
from training import card_doc


def _block(n: int, fpr: float | None, tpr: float | None) -> dict[str, object]:
    return {
        "n": n,
        "auc": 0.9,
        "fpr": fpr,
        "fpr_95ci": [0.01, 0.1],
        "tpr": tpr,
        "tpr_95ci": None,
        "ece": 0.02,
        "n_fake": n,
    }


def test_render_writes_the_measured_block_between_the_markers(tmp_path: Path) -> None:
    card = ModelCard(name="m", version="1", threshold=0.7)
    card.metrics["evaluation"] = {
        "split": "test",
        "command": "python -m training.evaluate",
        "image_level": {
            "by_source": {"london": _block(44, 0.045, None)},
            "by_method": {
                "stylegan2": {
                    k: _block(105, None, 0.9)
                    for k in ("vs_all_reals", "vs_same_source_reals", "vs_photo_reals")
                }
            },
        },
    }
    card_path, doc = tmp_path / "card.json", tmp_path / "doc.md"
    card.save(card_path)
    doc.write_text(f"intro\n{card_doc.BEGIN}\nold numbers\n{card_doc.END}\noutro\n")
    assert card_doc.main(["--card", str(card_path), "--doc", str(doc)]) == 0
    text = doc.read_text()
    assert "old numbers" not in text and text.startswith("intro\n") and text.endswith("outro\n")
    assert "| london | 44 | 0.900 | 4.5 % [1-10] |" in text
    assert "| stylegan2 | 105 |" in text


def test_a_document_without_markers_is_refused(tmp_path: Path) -> None:
    card_path, doc = tmp_path / "card.json", tmp_path / "doc.md"
    ModelCard(name="m", version="1").save(card_path)
    doc.write_text("no markers\n")
    with pytest.raises(SystemExit):
        card_doc.main(["--card", str(card_path), "--doc", str(doc)])


def test_bands_kinds_and_every_robustness_edit_are_rendered() -> None:
    card = ModelCard(name="m", version="1", threshold=0.9, threshold_real=0.4)
    card.metrics["evaluation"] = {
        "split": "test",
        "command": "c",
        "image_level": {"by_source": {}, "by_method": {}},
        "bands": {
            "t_real": 0.4,
            "t_fake": 0.9,
            "by_group": {"modern_generated:flux": {"n": 54, "real": 0.1, "inconclusive": 0.2, "fake": 0.7}},
        },
        "kinds": {
            "outputs": {
                name: {"threshold": 0.5, "by_source": {"sdfd:fake": {"n": 9, "called": share}}}
                for name, share in (("generated", 0.8), ("swapped", 0.1))
            },
            "named_kind": {"sdfd": {"n": 9, "kind": "generated", "named_right": 0.9}},
            "any_output_rule": {"london:real": {"n": 44, "fake_score_rule": 0.0, "any_output_rule": 0.05}},
        },
        "robustness": {"sdfd:fake": {"n": 9, "rate": "catch_rate", "original": 0.9, "screenshot": 0.5}},
    }
    text = card_doc.render(card)
    assert "t_fake 0.9000, t_real 0.4000" in text
    assert "| modern_generated:flux | 54 | 10.0 % | 20.0 % | 70.0 % |" in text
    assert "| sdfd:fake | 9 | 80.0 % | 10.0 % |" in text
    assert "| sdfd | 9 | generated | 90.0 % |" in text
    assert "| london:real | 44 | 0.0 % | 5.0 % |" in text
    assert "| slice | n | original | screenshot |" in text and "| 90.0 % | 50.0 % |" in text
