"""The training loss: BCE + soft Dice (one channel), CE + soft Dice (label maps), averaged over deep-supervision
heads."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def seg_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """BCE + soft Dice for one output channel, CE + soft Dice (mean over foreground classes) otherwise."""
    if logits.shape[-2:] != target.shape[-2:]:  # deep-supervision heads at a lower resolution
        logits = F.interpolate(logits, size=target.shape[-2:], mode="bilinear", align_corners=False)
    if logits.shape[1] == 1:
        t = target.unsqueeze(1).float()
        p = torch.sigmoid(logits)
        dice = 1 - (2 * (p * t).sum() + 1) / (p.sum() + t.sum() + 1)
        return F.binary_cross_entropy_with_logits(logits, t) + dice
    k = logits.shape[1]
    p = logits.softmax(1)
    onehot = F.one_hot(target, k).permute(0, 3, 1, 2).float()
    inter = (p * onehot).sum((0, 2, 3))
    dice = 1 - (2 * inter + 1) / (p.sum((0, 2, 3)) + onehot.sum((0, 2, 3)) + 1)
    return F.cross_entropy(logits, target) + dice[1:].mean()


def total_loss(out: torch.Tensor | list[torch.Tensor] | tuple[torch.Tensor, ...], target: torch.Tensor) -> torch.Tensor:
    """Deep supervision (UNet#): the mean of the loss over every returned logits tensor."""
    if isinstance(out, (list, tuple)):
        return torch.stack([seg_loss(o, target) for o in out]).mean()
    return seg_loss(out, target)
