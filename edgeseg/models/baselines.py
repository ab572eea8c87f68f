"""The papers' own U-Net baselines, where they differ from our `unet`, so each ratio claim can be computed
against the network the paper compared with (and our `unet` beside it).

* ``unet_lee`` (the claims read it as unet-lee): GPU-Net's U-Net (Yu et al., Table 1: 34.53M params, 49.10 G
  thop MACs at 3x192x256), the LeeJunHyun/Image_Segmentation network.py ``U_Net`` layout that GPU-Net's code
  copies: widths 64..1024, conv_block = [3x3 conv (bias) -> BN -> ReLU] x 2, up_conv = nearest x2 -> 3x3 conv
  (bias) halving -> BN -> ReLU, concat skips, 1x1 head. 34,527,041 params (3->1). The 3x3 up-convs (where
  milesial's U-Net has 2x2 transposed convs) are why it is 3.5M heavier than our `unet`.
* ``unet_vgg`` (unet-vgg): UNet#'s UNet (Qian et al., Table 1, "VGG11" backbone: 7.85M), the plain U-Net of
  4uiiurz1/pytorch-nested-unet archs.py ``UNet`` that UNet#'s code builds on: widths 32..512 (the paper's Fig. 1
  caption), VGGBlock = [3x3 conv (bias) -> BN -> ReLU] x 2, bilinear x2 up (align_corners=True) with no
  channel reduction, concat skips, 1x1 head. 7,852,545 params (3->1), which rounds to the paper's 7.85M.

Neither is trained in the campaign: they exist for the static counts (params, MACs) and for speed.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from edgeseg.models.registry import register_model
from edgeseg.models.unetsharp import VGGBlock

# Counting references, not networks the toolkit ships: the engine and quantization suites leave them out
# (their export is checked in tests/test_models.py).
PAPER_BASELINES = ("unet_lee", "unet_vgg")


def _up_lee(cin: int, cout: int) -> nn.Sequential:
    """Nearest x2 -> 3x3 conv (bias) halving -> BN -> ReLU (LeeJunHyun ``up_conv``)."""
    return nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(cin, cout, 3, padding=1),
                         nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class PlainUNet(nn.Module):
    """VGG-block encoder (2x2 max-pool between stages), concat-skip decoder, 1x1 head; `up` chooses the up path:
    "lee" (nearest + 3x3 conv halving the channels) or "bilinear" (align_corners=True, no channel change)."""

    def __init__(self, in_channels: int, num_classes: int, widths: tuple[int, ...], up: str) -> None:
        super().__init__()
        w = widths
        self.pool = nn.MaxPool2d(2)
        self.encoders = nn.ModuleList(VGGBlock(c, o) for c, o in zip((in_channels, *w[:-1]), w, strict=True))
        if up == "lee":
            self.ups = nn.ModuleList(_up_lee(w[i + 1], w[i]) for i in reversed(range(len(w) - 1)))
            cins = [2 * w[i] for i in reversed(range(len(w) - 1))]
        else:
            self.ups = nn.ModuleList(nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True)
                                     for _ in range(len(w) - 1))
            cins = [w[i] + w[i + 1] for i in reversed(range(len(w) - 1))]
        self.decoders = nn.ModuleList(VGGBlock(c, w[i]) for c, i in zip(cins, reversed(range(len(w) - 1)),
                                                                         strict=True))
        self.head = nn.Conv2d(w[0], num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = [self.encoders[0](x)]
        for enc in self.encoders[1:]:
            skips.append(enc(self.pool(skips[-1])))
        y = skips.pop()
        for up, dec in zip(self.ups, self.decoders, strict=True):
            y = dec(torch.cat([skips.pop(), up(y)], dim=1))
        return self.head(y)


@register_model(
    summary="GPU-Net's U-Net baseline (nearest up + 3x3 conv, BN, bias), 34.5M",
    reference_input=(3, 192, 256),
    paper_inputs={"ISIC": (3, 192, 256), "DSB": (3, 96, 96)},
    size_multiple=16,
    reference_params=34_527_041,
    source="LeeJunHyun/Image_Segmentation @7a6e5f9 network.py U_Net (copied by Heng14/GPU-Net network.py)",
)
def unet_lee(in_channels: int, num_classes: int, **kw: Any) -> PlainUNet:
    """GPU-Net's U-Net baseline (LeeJunHyun layout); no options."""
    return PlainUNet(in_channels, num_classes, (64, 128, 256, 512, 1024), "lee", **kw)


@register_model(
    summary="UNet#'s UNet baseline (VGG blocks 32-512, bilinear up), 7.85M",
    reference_input=(3, 96, 96),
    paper_inputs={"DSB2018": (3, 96, 96)},
    size_multiple=16,
    reference_params=7_852_545,
    source="4uiiurz1/pytorch-nested-unet @e7bccbf archs.py UNet (the UNet of UNet#'s Table 1)",
)
def unet_vgg(in_channels: int, num_classes: int, **kw: Any) -> PlainUNet:
    """UNet#'s plain UNet baseline (pytorch-nested-unet layout); no options."""
    return PlainUNet(in_channels, num_classes, (32, 64, 128, 256, 512), "bilinear", **kw)
