"""Adversarial examples: L-infinity PGD in the 8-bit pixel space the attacker controls, used by the
attack suite (``training.attacks``) and, as FGSM with a random start ("fast adversarial
training", Wong, Rice and Kolter, ICLR 2020), by training.

The network sees normalised tensors, so training converts its batch to RGB pixels in [0, 1],
attacks there, and converts back. Training's examples are made against the model in evaluation
mode (no dropout, batch-norm statistics left alone): the model the service runs.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn


def pgd(
    model: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    direction: torch.Tensor,
    eps: float,
    steps: int,
    step_size: float | None,
    random_start: bool,
    generator: torch.Generator,
) -> torch.Tensor:
    """Projected gradient ascent on ``direction * model(x)`` (a fake logit per sample; direction -1
    pushes a fake down, +1 pushes a real up) inside the L-infinity ball of ``eps`` around the pixels
    ``x`` and the [0, 1] box; steps of ``step_size`` (default eps / 4). The step follows the logit,
    not a loss: the loss of a confidently classified sample saturates in float32 and its gradient
    vanishes. FGSM is one step of size eps without a random start."""
    alpha = eps / 4 if step_size is None else step_size
    sign = direction.view(-1).to(x.dtype)
    adv = x.clone()
    if random_start:
        noise = torch.empty(x.shape, dtype=x.dtype).uniform_(-eps, eps, generator=generator)
        adv = (adv + noise.to(x.device)).clamp(0.0, 1.0)
    for _ in range(steps):
        adv.requires_grad_(True)
        with torch.enable_grad():  # also when called under no_grad
            objective = (sign * model(adv)).sum()
            (grad,) = torch.autograd.grad(objective, adv)
        adv = adv.detach() + alpha * grad.sign()
        adv = torch.min(torch.max(adv, x - eps), x + eps).clamp(0.0, 1.0)
    return adv.detach()


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
    """The adversarial version of each normalised sample in ``x`` (N, 3, S, S): a random start in
    the ball of ``eps_levels`` 8-bit levels, then one step of ``step * eps`` that moves the fake
    logit away from ``target`` (N, 1: reals up, fakes down)."""
    centre = torch.tensor(mean, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    scale = torch.tensor(std, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    eps = eps_levels / 255.0

    def logit(pixels: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = model((pixels - centre) / scale)[0][:, 0]
        return out

    was_training = model.training
    model.eval()
    try:
        pixels = pgd(logit, x * scale + centre, 1 - 2 * target, eps, 1, step * eps, True, generator)
    finally:
        model.train(was_training)
    return ((pixels - centre) / scale).detach()


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
