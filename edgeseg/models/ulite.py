"""U-Lite (Dinh, Nguyen, Tran, Pham; APSIPA ASC 2023 pp. 1279-1284; arXiv 2306.16103).

Source: duong-db/U-Lite @5e2d53e : models/ULite.py (MODELS.md section 4).

* AxialDW(dim, k, dilation): x + dw_(k x 1)(x) + dw_(1 x k)(x), both depthwise with bias (identity inside).
* Encoder block (in -> out): skip = BN(AxialDW7(x)) at *in* channels; main path = GELU(maxpool(1x1 conv(skip))).
* Bottleneck (512, gc=128): 1x1 512->128; concat [x, AxialDW3 d=1, d=2, d=3] -> BN -> 1x1 512->512 -> GELU.
* Decoder block (in, out): nearest x2 -> concat [up, skip] -> 1x1 (in+out -> out) -> BN -> AxialDW7 -> 1x1 -> GELU.
* Stem 7x7 conv 3->16, encoders 16..512 (5 poolings: H and W must be multiples of 32), head 1x1 16->1 (logits).
* Params: 878,417 (3->1; README "878K").

Differences from the reference code (same numbers, different graph):
* The reference hard-codes 3 input channels and 1 output; we accept `in_channels` / `num_classes`
  (only the stem and head change; defaults reproduce the reference).
* `padding='same'` is replaced by explicit symmetric padding dilation * (k // 2): identical for odd kernels,
  but 'same' exports as auto_pad=SAME_UPPER, which ONNX Runtime rejects for the dilated bottleneck convs.
* `forward` raises a clear error for inputs that are not multiples of 32 (the reference fails in `torch.cat`).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from edgeseg.models.registry import check_input_size, register_model


class AxialDW(nn.Module):
    def __init__(self, dim: int, kernel: int, dilation: int = 1) -> None:
        super().__init__()
        p = dilation * (kernel // 2)
        self.dw_h = nn.Conv2d(dim, dim, (kernel, 1), padding=(p, 0), groups=dim, dilation=dilation)
        self.dw_w = nn.Conv2d(dim, dim, (1, kernel), padding=(0, p), groups=dim, dilation=dilation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.dw_h(x) + self.dw_w(x)


class EncoderBlock(nn.Module):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.dw = AxialDW(cin, 7)
        self.bn = nn.BatchNorm2d(cin)
        self.pw = nn.Conv2d(cin, cout, 1)
        self.down = nn.MaxPool2d(2)
        self.act = nn.GELU()

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        skip = self.bn(self.dw(x))
        return self.act(self.down(self.pw(skip))), skip


class DecoderBlock(nn.Module):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        self.pw = nn.Conv2d(cin + cout, cout, 1)
        self.bn = nn.BatchNorm2d(cout)
        self.dw = AxialDW(cout, 7)
        self.pw2 = nn.Conv2d(cout, cout, 1)
        self.act = nn.GELU()

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = torch.cat([self.up(x), skip], dim=1)
        return self.act(self.pw2(self.dw(self.bn(self.pw(x)))))


class BottleNeckBlock(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        gc = dim // 4
        self.pw1 = nn.Conv2d(dim, gc, 1)
        self.dw1 = AxialDW(gc, 3, dilation=1)
        self.dw2 = AxialDW(gc, 3, dilation=2)
        self.dw3 = AxialDW(gc, 3, dilation=3)
        self.bn = nn.BatchNorm2d(4 * gc)
        self.pw2 = nn.Conv2d(4 * gc, dim, 1)
        self.act = nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pw1(x)
        x = torch.cat([x, self.dw1(x), self.dw2(x), self.dw3(x)], dim=1)
        return self.act(self.pw2(self.bn(x)))


class ULite(nn.Module):
    def __init__(self, in_channels: int = 3, num_classes: int = 1) -> None:
        super().__init__()
        w = [16, 32, 64, 128, 256, 512]
        self.conv_in = nn.Conv2d(in_channels, w[0], 7, padding=3)
        self.encoders = nn.ModuleList(EncoderBlock(w[i], w[i + 1]) for i in range(5))
        self.bottleneck = BottleNeckBlock(w[5])
        self.decoders = nn.ModuleList(DecoderBlock(w[i + 1], w[i]) for i in reversed(range(5)))
        self.conv_out = nn.Conv2d(w[0], num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not torch.jit.is_tracing():  # traced shapes are tensors; the exporter checks the size itself
            check_input_size("ulite", int(x.shape[-2]), int(x.shape[-1]))
        x = self.conv_in(x)
        skips = []
        for enc in self.encoders:
            x, skip = enc(x)
            skips.append(skip)
        x = self.bottleneck(x)
        for dec in self.decoders:
            x = dec(x, skips.pop())
        return self.conv_out(x)


@register_model(
    summary="U-Lite: axial depthwise convs, ~0.88M (input sides multiple of 32)",
    reference_input=(3, 256, 256),
    paper_inputs={"ISIC": (3, 256, 256)},
    size_multiple=32,
    reference_params=878_417,
    source="duong-db/U-Lite @5e2d53e models/ULite.py",
)
def ulite(in_channels: int, num_classes: int, **kw: Any) -> ULite:
    """U-Lite (the reference code has no options)."""
    return ULite(in_channels, num_classes, **kw)
