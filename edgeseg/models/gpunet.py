"""GPU-Net and Ghost U-Net (Yu, Fan, Song, arXiv 2201.02656; code Heng14/GPU-Net @602f606).

Both replace every double conv of the LeeJunHyun U-Net (``network.py: U_Net``, the "34.5M" baseline)
with a ghost bottleneck (``network.py: GhostU_Net2``, ``ghostnet.py: GhostModule/GhostBottleneck``):

* encoder widths 64-128-256-512-1024, one bottleneck per stage, 2x2 max-pool between stages;
* decoder ``up_conv`` = nearest x2 + 3x3 conv (bias) + BN + ReLU halving the width, concat
  ``[skip, up]``, bottleneck 2c -> c; 1x1 head with bias (logits; the solver applies the sigmoid).

GP-module (``gpunet``): ghost module with ratio s=6 and ASPP-style cheap ops. A 1x1 primary conv makes
``init = ceil(oup/6)`` intrinsic maps; five depthwise cheap ops on them (3x3; 1x1; 3x3 dilated 6, 12, 18)
each followed by BN (+ReLU); concat ``[primary, dw3, dw1, d6, d12, d18]`` then slice to the first ``oup``
channels (so the d18 branch loses channels first). Ghost module (``ghostunet``): ratio 2, only the 3x3 cheap op.

Paper vs code (we follow the code, which reproduces the paper's parameter counts exactly):
* The released snapshot is left in Ghost-U-Net mode (ratio=2, ASPP forward commented out); GPU-Net needs
  ratio 6 *and* the ASPP forward. With both: 8,274,625 params (paper 8.27M); ratio 2: 9,307,394 (paper 9.31M).
* The paper says "BN is used after each GP-module"; the code puts a BN (+ReLU) inside the module on every
  branch (primary and each cheap op) and none after it. Paper Sec. 4.2 lists the dilation rates as "1, 6, 12,
  18" plus a 1x1 depthwise op; in code the "rate 1" op is the plain 3x3 depthwise (``cheap_operation``).
* The paper's "FLOPs" are old-thop MACs (conv incl. bias + 2 per BN element), not 2x MACs. Measured on this
  implementation they reproduce all six Table 1 figures: GPU-Net 17.562 / 23.416 / 3.293 G and Ghost U-Net
  18.784 / 25.045 / 3.522 G at 3x192x256 (ISIC) / 3x256x256 (LUNA) / 3x96x96 (DSB), paper 17.56 / 23.42 / 3.29
  and 18.78 / 25.05 / 3.52. (``edgeseg.models.counting`` counts BN as 4/element, so it reports 17.674 G.)
  The LUNA figure needs 3 input channels (the code's default ``img_ch=3``), hence ``paper_inputs``.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from edgeseg.models.registry import register_model


def _dw_bn_act(ch: int, kernel: int, dilation: int, relu: bool) -> nn.Sequential:
    """Depthwise cheap op (no bias) + BN (+ ReLU); padding keeps the size."""
    pad = dilation * (kernel // 2)
    layers: list[nn.Module] = [
        nn.Conv2d(ch, ch, kernel, 1, pad, dilation=dilation, groups=ch, bias=False),
        nn.BatchNorm2d(ch),
    ]
    if relu:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class GPModule(nn.Module):
    """Ghost module (ratio 2, dw 3x3) or GP-module (ratio 6, dw 3x3 + dw 1x1 + dilated dw 6/12/18).

    ``relu`` switches every ReLU in the module (the second module of a bottleneck has none).
    """

    def __init__(self, inp: int, oup: int, ratio: int = 6, aspp: bool = True, relu: bool = True) -> None:
        super().__init__()
        self.oup = oup
        init = math.ceil(oup / ratio)
        primary: list[nn.Module] = [nn.Conv2d(inp, init, 1, bias=False), nn.BatchNorm2d(init)]
        if relu:
            primary.append(nn.ReLU(inplace=True))
        self.primary = nn.Sequential(*primary)
        # (kernel, dilation) per cheap op, in the code's concat order.
        ops = [(3, 1)] + ([(1, 1), (3, 6), (3, 12), (3, 18)] if aspp else [])
        if (1 + len(ops)) * init < oup:
            raise ValueError(f"ratio {ratio} with {len(ops)} cheap ops cannot make {oup} channels")
        self.cheap = nn.ModuleList(_dw_bn_act(init, k, d, relu) for k, d in ops)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = self.primary(x)
        out = torch.cat([x1, *(op(x1) for op in self.cheap)], dim=1)
        return out[:, : self.oup]


class GPBottleneck(nn.Module):
    """Two GP-modules (second without ReLU) + projection shortcut, added with no activation after.

    Every stage of the U-Net has in != out, so the shortcut is always DW 3x3 + BN + 1x1 + BN (code's
    ``GhostBottleneck`` with stride 1, no SE, mid = out).
    """

    def __init__(self, cin: int, cout: int, ratio: int = 6, aspp: bool = True) -> None:
        super().__init__()
        self.ghost1 = GPModule(cin, cout, ratio, aspp, relu=True)
        self.ghost2 = GPModule(cout, cout, ratio, aspp, relu=False)
        if cin == cout:
            self.shortcut: nn.Module = nn.Identity()
        else:
            self.shortcut = nn.Sequential(
                nn.Conv2d(cin, cin, 3, 1, 1, groups=cin, bias=False), nn.BatchNorm2d(cin),
                nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.ghost2(self.ghost1(x)) + self.shortcut(x)


class UpConv(nn.Sequential):
    """LeeJunHyun ``up_conv``: nearest x2, 3x3 conv with bias, BN, ReLU."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__(
            nn.Upsample(scale_factor=2, mode="nearest"),
            nn.Conv2d(cin, cout, 3, 1, 1, bias=True), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
        )


class GPUNet(nn.Module):
    """U-Net with GP-bottlenecks (``ratio=6, aspp=True``: GPU-Net) or ghost bottlenecks (2, False: Ghost U-Net)."""

    def __init__(self, in_channels: int = 3, num_classes: int = 1, ratio: int = 6, aspp: bool = True,
                 base: int = 64) -> None:
        super().__init__()
        w = [base * 2**i for i in range(5)]
        self.pool = nn.MaxPool2d(2, 2)
        self.encoders = nn.ModuleList(
            GPBottleneck(in_channels if i == 0 else w[i - 1], w[i], ratio, aspp) for i in range(5)
        )
        self.ups = nn.ModuleList(UpConv(w[i + 1], w[i]) for i in reversed(range(4)))
        self.decoders = nn.ModuleList(GPBottleneck(2 * w[i], w[i], ratio, aspp) for i in reversed(range(4)))
        self.head = nn.Conv2d(w[0], num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for i, enc in enumerate(self.encoders):
            x = enc(x if i == 0 else self.pool(x))
            skips.append(x)
        y = skips.pop()
        for up, dec in zip(self.ups, self.decoders, strict=True):
            y = dec(torch.cat([skips.pop(), up(y)], dim=1))
        return self.head(y)


_PAPER_INPUTS = {"ISIC": (3, 192, 256), "LUNA": (3, 256, 256), "DSB": (3, 96, 96)}


@register_model(
    summary="GPU-Net: U-Net with GP-bottlenecks (ghost s=6 + dilated dw 6/12/18), 8.27M",
    reference_input=(3, 192, 256),
    paper_inputs=_PAPER_INPUTS,
    size_multiple=16,
    reference_params=8_274_625,
    source="Heng14/GPU-Net @602f606 network.py GhostU_Net2 + ghostnet.py (ratio=6, ASPP forward enabled)",
)
def gpunet(in_channels: int, num_classes: int, **kw: Any) -> GPUNet:
    """GPU-Net: GP-bottlenecks (ghost ratio 6, ASPP); see GPUNet for its options."""
    return GPUNet(in_channels, num_classes, ratio=6, aspp=True, **kw)


@register_model(
    summary="Ghost U-Net: U-Net with GhostNet bottlenecks (s=2, d=3), GPU-Net's ablation, 9.31M",
    reference_input=(3, 192, 256),
    paper_inputs=_PAPER_INPUTS,
    size_multiple=16,
    reference_params=9_307_394,
    source="Heng14/GPU-Net @602f606 network.py GhostU_Net2 + ghostnet.py (snapshot state: ratio=2, no ASPP)",
)
def ghostunet(in_channels: int, num_classes: int, **kw: Any) -> GPUNet:
    """Ghost U-Net, GPU-Net's ablation (ghost ratio 2, no ASPP); see GPUNet."""
    return GPUNet(in_channels, num_classes, ratio=2, aspp=False, **kw)
