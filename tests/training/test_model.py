"""The network: a CAM whose mean is the logit, and a clear error on the wrong input size."""

from __future__ import annotations

import pytest
import torch

from training.model import FakeFaceNet

SIZE = 96


def test_cam_mean_is_the_logit_and_the_face_moves_it():
    torch.manual_seed(0)
    model = FakeFaceNet(pretrained=True, input_size=SIZE).eval()
    torch.nn.init.normal_(model.head.weight, std=0.5)
    x = torch.randn(2, 3, SIZE, SIZE)
    changed = x.clone()
    changed[:, :, SIZE // 2 - 8 : SIZE // 2 + 8, SIZE // 2 - 8 : SIZE // 2 + 8] += 5.0
    with torch.no_grad():
        logit, cam, kinds = model(x)
        logit_changed, _, _ = model(changed)
    assert torch.allclose(cam.mean(dim=(1, 2)), logit[:, 0], atol=1e-5)
    assert kinds.shape == (2, 2)
    assert not torch.allclose(logit, logit_changed, atol=1e-5)


def test_wrong_input_size_is_refused():
    model = FakeFaceNet(pretrained=False, input_size=SIZE).eval()
    with pytest.raises(ValueError, match="built for 96"):
        model(torch.zeros(1, 3, SIZE + 8, SIZE + 8))
