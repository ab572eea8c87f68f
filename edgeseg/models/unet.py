"""U-Net baseline: the transposed-conv U-Net with BatchNorm (milesial/Pytorch-UNet @21d7850, bilinear=False).

64-128-256-512-1024 encoder, two 3x3 conv+BN+ReLU per stage (bias-free convs), 2x2 max-pool,
2x2 ConvTranspose halving channels, concat skips, 1x1 head with bias. Params: 31,037,633 (3->1),
31,036,481 (1->1) -- the "~31M U-Net" that SD-UNet (x8) and U-Lite (x35) compare against.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from edgeseg.models.blocks import DoubleConv
from edgeseg.models.registry import register_model


class Up(nn.Module):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.up = nn.ConvTranspose2d(cin, cin // 2, 2, stride=2)
        self.conv = DoubleConv(cin, cout)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return self.conv(torch.cat([skip, self.up(x)], dim=1))


class UNet(nn.Module):
    def __init__(self, in_channels: int = 3, num_classes: int = 1, base: int = 64) -> None:
        super().__init__()
        w = [base * 2**i for i in range(5)]
        self.inc = DoubleConv(in_channels, w[0])
        self.downs = nn.ModuleList(nn.Sequential(nn.MaxPool2d(2), DoubleConv(w[i], w[i + 1])) for i in range(4))
        self.ups = nn.ModuleList(Up(w[i + 1], w[i]) for i in reversed(range(4)))
        self.head = nn.Conv2d(w[0], num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = [self.inc(x)]
        for down in self.downs:
            skips.append(down(skips[-1]))
        y = skips.pop()
        for up in self.ups:
            y = up(y, skips.pop())
        return self.head(y)


@register_model(
    summary="U-Net baseline (transposed conv, BatchNorm), ~31.0M",
    reference_input=(3, 256, 256),
    paper_inputs={"ISBI": (1, 256, 256), "ISIC": (3, 192, 256), "DSB": (3, 96, 96)},
    size_multiple=16,
    reference_params=31_037_633,
    source="milesial/Pytorch-UNet @21d7850 (bilinear=False)",
)
def unet(in_channels: int, num_classes: int, **kw: Any) -> UNet:
    """U-Net baseline; option base (first width, default 64)."""
    return UNet(in_channels, num_classes, **kw)
