"""Render the measured part of docs/model_card.md from the model card's numbers, so every figure
in the document is one that ``make evaluate`` wrote.

    python -m training.card_doc            # rewrites the block between the markers in docs/model_card.md
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from deepfake_detect.core.model_card import ModelCard
from deepfake_detect.settings import Settings

BEGIN, END = "<!-- measured:begin -->", "<!-- measured:end -->"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f} %"


def _ci(interval: list[float] | None) -> str:
    return "" if not interval else f" [{100 * interval[0]:.0f}-{100 * interval[1]:.0f}]"


def _num(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def render(card: ModelCard) -> str:
    evaluation: dict[str, Any] = card.metrics.get("evaluation", {})
    image = evaluation.get("image_level", {})
    if not image:
        return "No evaluation in the card yet: run `make evaluate`.\n"
    t_real = "none" if card.threshold_real is None else f"{card.threshold_real:.4f}"
    out = [
        f"Model `{card.name}` {card.version}, t_fake {card.threshold:.4f}, t_real {t_real}, temperature "
        f"{card.calibration.temperature:.3f}; split `{evaluation.get('split')}`; "
        f"measured by `{evaluation.get('command')}`. Rates are shares of faces (or files) called "
        "fake at the threshold, with n and a 95 % Wilson interval in brackets.",
        "",
        "**Per source** (image level, every face of the split):",
        "",
        "| source | n | AUC | reals called fake | fakes caught | ECE |",
        "|---|---|---|---|---|---|",
    ]
    for source, block in image["by_source"].items():
        out.append(
            f"| {source} | {block['n']} | {_num(block['auc'])} "
            f"| {_pct(block['fpr'])}{_ci(block['fpr_95ci'])} "
            f"| {_pct(block['tpr'])}{_ci(block['tpr_95ci'])} | {_num(block['ece'])} |"
        )
    out += ["", "**Per manipulation** (AUC against each set of reals; caught at the threshold):", ""]
    out += ["| method | n fakes | vs all reals | vs same-source reals | vs reals with context | caught |"]
    out += ["|---|---|---|---|---|---|"]
    for method, blocks in image["by_method"].items():
        fakes = blocks["vs_all_reals"]["n_fake"]
        out.append(
            f"| {method} | {fakes} | {_num(blocks['vs_all_reals']['auc'])} "
            f"| {_num(blocks['vs_same_source_reals']['auc'])} | {_num(blocks['vs_photo_reals']['auc'])} "
            f"| {_pct(blocks['vs_all_reals']['tpr'])}{_ci(blocks['vs_all_reals']['tpr_95ci'])} |"
        )
    bands = evaluation.get("bands", {})
    if bands:
        out += [
            "",
            f"**Verdict bands** (share of each group's faces: real below t_real {bands['t_real']:.4f}, "
            f"inconclusive between, fake from t_fake {bands['t_fake']:.4f}; modern fakes per held-out "
            "family):",
            "",
            "| group | n | real (no sign) | inconclusive | fake (likely manipulated) |",
            "|---|---|---|---|---|",
        ]
        for group, row in bands["by_group"].items():
            shares = " | ".join(_pct(row[band]) for band in ("real", "inconclusive", "fake"))
            out.append(f"| {group} | {row['n']} | {shares} |")
    kinds = evaluation.get("kinds", {})
    if kinds:
        out += [
            "",
            "**Evidence kinds** (each kind output at its own threshold; share of faces it flags):",
            "",
        ]
        names = list(kinds["outputs"])
        out += [
            "| source | n | "
            + " | ".join(f"{k} (t {kinds['outputs'][k]['threshold']:.3f})" for k in names)
            + " |",
            "|---|---|" + "---|" * len(names),
        ]
        first = kinds["outputs"][names[0]]["by_source"]
        for group, row in first.items():
            cells = " | ".join(_pct(kinds["outputs"][k]["by_source"][group]["called"]) for k in names)
            out.append(f"| {group} | {row['n']} | {cells} |")
        named = kinds.get("named_kind", {})
        if named:
            out += ["", "Fakes whose record names the right kind (`evidence_kind`):", ""]
            out += ["| source | n | true kind | named right |", "|---|---|---|---|"]
            for source, row in named.items():
                out.append(f"| {source} | {row['n']} | {row['kind']} | {_pct(row['named_right'])} |")
        union = kinds.get("any_output_rule", {})
        if union:
            out += [
                "",
                "The rule not shipped (fake when any output passes its own threshold) beside the shipped",
                "one:",
                "",
            ]
            out += ["| group | n | fake score rule (shipped) | any-output rule |", "|---|---|---|---|"]
            for group, row in union.items():
                rules = f"{_pct(row['fake_score_rule'])} | {_pct(row['any_output_rule'])}"
                out.append(f"| {group} | {row['n']} | {rules} |")
    files = evaluation.get("file_level", {})
    if files:
        out += [
            "",
            "**Real photo files** (through `ScanPipeline.analyze`; a file is its most suspicious face):",
            "",
        ]
        out += ["| source | files | multi-face files | called fake |", "|---|---|---|---|"]
        for source, row in files["real_photo_files_called_fake"].items():
            out.append(
                f"| {source} | {row['files_with_face']} | {row['multi_face_files']} "
                f"| {_pct(row['called_fake'])}{_ci(row['called_fake_95ci'])} |"
            )
        out += ["", "Videos and the full DFDC frame (file score = most suspicious counted track):", ""]
        out += ["| file | label | score | verdict |", "|---|---|---|---|"]
        for row in files["files"]:
            if row["kind"] == "video" or row["method"] == "dfdc_frame":
                label = "fake" if row["label"] else "real"
                out.append(f"| {row['file']} | {label} | {_num(row['score'])} | {row['verdict']} |")
    frames = evaluation.get("ffpp_frames", {})
    if frames:
        out += [
            "",
            "**FaceForensics++ frame level** (128 frames of each video, paired with its original):",
            "",
        ]
        out += [
            "| pair | AUC [95 % bootstrap] | frames caught | original frames called fake |",
            "|---|---|---|---|",
        ]
        for pair, row in frames.items():
            low, high = row["auc_95ci"] or (None, None)
            out.append(
                f"| {pair} | {_num(row['auc'])} [{_num(low)}-{_num(high)}] "
                f"| {_pct(row['tpr'])} | {_pct(row['fpr'])} |"
            )
    robust = evaluation.get("robustness", {})
    if robust:
        edits = [k for k in next(iter(robust.values())) if k not in ("n", "rate")]
        out += [
            "",
            "**Robustness** (the source image edited as platforms and people do; share called fake):",
            "",
        ]
        out += ["| slice | n | " + " | ".join(e.replace("_", " ") for e in edits) + " |"]
        out += ["|---|---|" + "---|" * len(edits)]
        for key, row in robust.items():
            cells = " | ".join(_pct(row.get(e)) for e in edits)
            out.append(f"| {key} ({row['rate'].replace('_', ' ')}) | {row['n']} | {cells} |")
    utk = image.get("utkface_fpr", {})
    if utk:
        out += ["", "**UTKFace false positives** by race, gender and age band (all real):", ""]
        out += ["| group | n | called fake |", "|---|---|---|"]
        for part in ("race", "gender", "age_band"):
            for value, row in utk.get(part, {}).items():
                out.append(f"| {value} | {row['n']} | {_pct(row['fpr'])} |")
    for table, title in (
        ("london_fpr", "London portraits called fake"),
        ("sdfd_caught", "SDFD faces caught"),
    ):
        groups = image.get(table, {})
        if groups:
            out += ["", f"**{title}** by the set's own attributes:", ""]
            out += ["| attribute | value | n | share |", "|---|---|---|---|"]
            for attribute, values in groups.items():
                for value, row in values.items():
                    out.append(
                        f"| {attribute} | {value} | {row['n']} "
                        f"| {_pct(row['called_fake'])}{_ci(row['called_fake_95ci'])} |"
                    )
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    settings = Settings()
    parser = argparse.ArgumentParser(prog="python -m training.card_doc", description=__doc__)
    parser.add_argument("--card", type=Path, default=settings.model_card_path)
    parser.add_argument("--doc", type=Path, default=Path("docs/model_card.md"))
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    text = args.doc.read_text()
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{args.doc} has no {BEGIN} ... {END} block")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    args.doc.write_text(f"{head}{BEGIN}\n{render(ModelCard.load(args.card))}{END}{tail}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
