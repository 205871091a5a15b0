"""Adversarial examples for training: FGSM with a random start ("fast adversarial training",
Wong, Rice and Kolter, ICLR 2020), in the 8-bit pixel space the attacker controls.

The model sees normalised tensors, so an L-infinity budget of ``eps`` levels in RGB pixels is
``eps / 255 / std`` per channel there, and the valid box is the normalised image of [0, 1].
Examples are made against the model in evaluation mode (no dropout, batch-norm statistics left
alone): the model the service runs.
"""

from __future__ import annotations

import torch
from torch import nn


def fgsm_rs(
    model: nn.Module,
    x: torch.Tensor,
    target: torch.Tensor,
    eps_levels: float,
    mean: tuple[float, float, float],
    std: tuple[float, float, float],
    generator: torch.Generator,
    step: float = 1.25,
) -> torch.Tensor:
    """The adversarial version of each normalised sample in ``x`` (N, 3, S, S): a uniform random
    start in the eps ball, one signed-gradient step of ``step * eps`` that moves the fake logit
    away from ``target`` (N, 1: reals up, fakes down), projected back into the ball and the valid
    pixel box. The step follows the logit, not the loss: the loss of a confidently classified
    sample saturates in float32 and its gradient vanishes, which would leave only the random start
    (the evaluation's PGD in ``training.attacks`` climbs the logit too)."""
    shape = (1, 3, 1, 1)
    scale = torch.tensor(std, dtype=x.dtype, device=x.device).view(shape)
    centre = torch.tensor(mean, dtype=x.dtype, device=x.device).view(shape)
    eps = eps_levels / 255.0 / scale
    low, high = (0.0 - centre) / scale, (1.0 - centre) / scale
    noise = torch.rand(x.shape, generator=generator, dtype=x.dtype).to(x.device)
    start = (x + (2 * noise - 1) * eps).clamp(low, high).detach().requires_grad_(True)
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad():
            logit = model(start)[0]
            (grad,) = torch.autograd.grad(((1 - 2 * target) * logit).sum(), start)
    finally:
        model.train(was_training)
    adv = start.detach() + step * eps * grad.sign()
    adv = torch.max(torch.min(adv, x + eps), x - eps)
    return torch.max(torch.min(adv, high), low).detach()


def mix_adversarial(
    model: nn.Module,
    x: torch.Tensor,
    target: torch.Tensor,
    eps_levels: float,
    share: float,
    mean: tuple[float, float, float],
    std: tuple[float, float, float],
    generator: torch.Generator,
) -> torch.Tensor:
    """``x`` with a random ``share`` of its samples replaced by their FGSM-RS versions."""
    if eps_levels <= 0 or share <= 0:
        return x
    count = round(share * len(x))
    if count == 0:
        return x
    chosen = torch.randperm(len(x), generator=generator)[:count].to(x.device)
    out = x.clone()
    out[chosen] = fgsm_rs(model, x[chosen], target[chosen], eps_levels, mean, std, generator)
    return out
