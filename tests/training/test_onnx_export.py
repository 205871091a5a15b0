from __future__ import annotations

import numpy as np
import pytest
import torch

from deepfake_detect.core.align import to_tensor
from deepfake_detect.core.classifier import Classifier
from deepfake_detect.core.hashing import file_sha256
from deepfake_detect.core.model_card import ModelCard, Outputs, Preprocessing
from training.manifest import SplitSpec, get_crops, get_manifest
from training.model import FakeFaceNet, imagenet_weights_path
from training.onnx_export import ExportParityError, check_parity, export_onnx, onnx_outputs

SIZE = 64
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


@pytest.fixture(scope="module")
def real_batch(shared_dir, detector_path, tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    manifest = get_manifest(shared_dir / "data", cache, detector_path, SplitSpec(), limit_per_source=4)
    crops = get_crops(
        manifest,
        cache,
        Preprocessing(input_size=SIZE, margin=-0.2, shift=-0.16, border="constant").geometry(),
    )
    reals = [i for i, f in enumerate(manifest.faces) if f.label == 0][:6]
    return [np.asarray(crops.images[i]) for i in reals]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    torch.manual_seed(0)
    model = FakeFaceNet(pretrained=True, input_size=SIZE).eval()
    path = tmp_path_factory.mktemp("export") / "model.onnx"
    export_onnx(model, path, SIZE)
    return model, path


def test_imagenet_weights_are_checked():
    assert imagenet_weights_path().name == "mobilenet_v2-b0353104.pth"


def test_export_matches_torch_on_real_crops(exported, real_batch):
    model, path = exported
    batch = to_tensor(real_batch, MEAN, STD)
    assert check_parity(model, path, batch) <= 1e-4
    # dynamic batch: one face and several faces both run
    logit, cam, kinds = onnx_outputs(path, batch[:1])
    assert logit.shape == (1, 1) and cam.ndim == 3 and kinds.shape == (1, 2)
    logit, cam, kinds = onnx_outputs(path, batch)
    assert logit.shape == (len(batch), 1) and kinds.shape == (len(batch), 2)
    # the CAM is the head applied per position: its mean is the logit
    np.testing.assert_allclose(cam.mean(axis=(1, 2)), logit[:, 0], atol=1e-4)


def test_parity_check_catches_a_different_model(exported, real_batch):
    _, path = exported
    torch.manual_seed(1)
    other = FakeFaceNet(pretrained=False, input_size=SIZE).eval()
    torch.nn.init.normal_(other.head.weight, std=1.0)
    with pytest.raises(ExportParityError):
        check_parity(other, path, to_tensor(real_batch, MEAN, STD))


def test_core_classifier_reads_logit_and_cam(exported, real_batch, tmp_path):
    _, path = exported
    card = ModelCard(
        name="t",
        version="0",
        sha256=file_sha256(path),
        preprocessing=Preprocessing(input_size=SIZE, margin=0.1),
        outputs=Outputs(logit="logit", cam="cam"),
    )
    scores = Classifier(path, card).score(real_batch)
    assert scores.probabilities.shape == (len(real_batch),)
    assert scores.cams is not None and scores.cams.shape[0] == len(real_batch)
