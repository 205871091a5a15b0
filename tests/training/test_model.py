"""The network's input window: the crop border (mirrored pixels on the tight training crops,
real context on full photos) must not move the score."""

from __future__ import annotations

import torch

from training.model import FakeFaceNet, window_mask

SIZE = 96
WINDOW = (0.15, 0.25, 0.85, 0.97)


def test_window_mask_is_one_inside_and_zero_outside():
    mask = window_mask(SIZE, WINDOW)[0, 0]
    assert mask.shape == (SIZE, SIZE)
    assert float(mask.min()) == 0.0 and float(mask.max()) == 1.0
    assert float(mask[SIZE // 2, SIZE // 2]) == 1.0
    assert float(mask[2, SIZE // 2]) == 0.0 and float(mask[SIZE // 2, 1]) == 0.0
    assert torch.all(window_mask(SIZE, None) == 1.0)


def test_pixels_outside_the_window_do_not_change_the_output():
    torch.manual_seed(0)
    model = FakeFaceNet(pretrained=True, input_size=SIZE, window=WINDOW).eval()
    torch.nn.init.normal_(model.head.weight, std=0.5)
    x = torch.randn(2, 3, SIZE, SIZE)
    outside = window_mask(SIZE, WINDOW) == 0
    y = torch.where(outside, torch.randn_like(x) * 5, x)
    inside = x.clone()
    inside[:, :, SIZE // 2 - 8 : SIZE // 2 + 8, SIZE // 2 - 8 : SIZE // 2 + 8] += 5.0
    with torch.no_grad():
        logit, cam = model(x)
        logit_border, _ = model(y)
        logit_face, _ = model(inside)
    assert torch.allclose(logit, logit_border, atol=1e-5)
    assert not torch.allclose(logit, logit_face, atol=1e-5)
    assert torch.allclose(cam.mean(dim=(1, 2)), logit[:, 0], atol=1e-5)
