"""Int8 post-training quantisation, kept only if it earns its place.

    python -m training.quantize --model models/deepfake_classifier.onnx

Static QDQ quantisation (ONNX Runtime) calibrated on training crops, then measured on the
validation crops: the int8 model is acceptable only if its AUC is within ``MAX_AUC_DROP`` of the
float model and it is faster per face. Writes the int8 file and a JSON verdict beside the report;
it never replaces the shipped model by itself.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process

from deepfake_detect.core.align import to_tensor
from deepfake_detect.core.constants import CLASSIFIER_FILE, DETECTOR_FILE
from deepfake_detect.core.model_card import ModelCard
from deepfake_detect.settings import Settings
from training.evaluate import split_spec
from training.manifest import Crops, get_crops, get_manifest
from training.metrics import roc_auc
from training.onnx_export import INPUT_NAME, LOGIT_NAME, latency_ms_per_face

log = logging.getLogger("training.quantize")
MAX_AUC_DROP = 0.005


class _Reader(CalibrationDataReader):  # type: ignore[misc]  # onnxruntime ships no type hints
    def __init__(self, crops: Crops, indices: list[int], card: ModelCard, batch: int = 16) -> None:
        pre = card.preprocessing
        self._batches: Iterator[dict[str, Any]] = iter(
            {
                INPUT_NAME: to_tensor(
                    [np.asarray(crops.images[i]) for i in indices[s : s + batch]], pre.mean, pre.std
                )
            }
            for s in range(0, len(indices), batch)
        )

    def get_next(self) -> dict[str, Any] | None:
        return next(self._batches, None)


def _logits(path: Path, crops: Crops, indices: list[int], card: ModelCard) -> np.ndarray[Any, Any]:
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    pre = card.preprocessing
    out = [
        np.asarray(
            session.run(
                [LOGIT_NAME],
                {
                    INPUT_NAME: to_tensor(
                        [np.asarray(crops.images[i]) for i in indices[s : s + 64]], pre.mean, pre.std
                    )
                },
            )[0]
        ).ravel()
        for s in range(0, len(indices), 64)
    ]
    return np.concatenate(out)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    settings = Settings()
    parser = argparse.ArgumentParser(
        prog="python -m training.quantize",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--model", type=Path, default=settings.models_dir / CLASSIFIER_FILE)
    parser.add_argument("--shared-dir", type=Path, default=settings.shared_dir)
    parser.add_argument("--cache-dir", type=Path, default=settings.training.cache_dir)
    parser.add_argument("--report-dir", type=Path, default=settings.data_dir / "training" / "quantize")
    parser.add_argument("--calibration-faces", type=int, default=256)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)

    card = ModelCard.load(args.model.with_suffix(".json"))
    detector = (
        settings.detector_path
        if settings.detector_path.is_file()
        else (args.shared_dir / "models" / DETECTOR_FILE)
    )
    from deepfake_detect.core.classifier import Classifier

    manifest = get_manifest(
        args.shared_dir / "data", args.cache_dir, detector, split_spec(Classifier(args.model, card))
    )
    pre = card.preprocessing
    crops = get_crops(manifest, args.cache_dir, pre.geometry())
    rng = np.random.default_rng(0)
    train = manifest.select("train")
    calibration = sorted(
        int(i) for i in rng.choice(train, size=min(args.calibration_faces, len(train)), replace=False)
    )
    args.report_dir.mkdir(parents=True, exist_ok=True)
    prepared, int8 = args.report_dir / "prepared.onnx", args.report_dir / "int8.onnx"
    quant_pre_process(str(args.model), str(prepared))
    quantize_static(
        str(prepared),
        str(int8),
        _Reader(crops, calibration, card),
        quant_format=QuantFormat.QDQ,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        per_channel=True,
    )
    val = manifest.select("val")
    labels = np.array([manifest.faces[i].label for i in val])
    auc_fp32 = roc_auc(labels, _logits(args.model, crops, val, card))
    auc_int8 = roc_auc(labels, _logits(int8, crops, val, card))
    fp32_ms = latency_ms_per_face(args.model, pre.input_size)
    int8_ms = latency_ms_per_face(int8, pre.input_size)
    assert auc_fp32 is not None and auc_int8 is not None
    keep = auc_fp32 - auc_int8 <= MAX_AUC_DROP and int8_ms < fp32_ms
    verdict = {
        "val_auc_fp32": round(auc_fp32, 4),
        "val_auc_int8": round(auc_int8, 4),
        "latency_ms_per_face_fp32": round(fp32_ms, 2),
        "latency_ms_per_face_int8": round(int8_ms, 2),
        "rule": f"keep int8 only if AUC drops <= {MAX_AUC_DROP} and it is faster",
        "meets_keep_rule": keep,
    }
    (args.report_dir / "quantize.json").write_text(json.dumps(verdict, indent=2) + "\n")
    log.info("%s", verdict)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
