"""TinyU-Net (Chen et al., MICCAI 2024, LNCS 15009 pp. 626-635).

Source: ChenJunren-Lab/TinyU-Net @7314772 : TinyU-Net.py (MODELS.md section 3); paper and code agree.

* Conv unit: conv (no bias) -> BN(eps=1e-3, momentum=0.03) -> exact GELU. DWConv: 3x3 depthwise + BN, no act.
* CMRF(c1 -> c2, N=8): PW c1 -> c2/8; split channels 0::2 (paper's "odd") / 1::2 ("even"); a cascade of
  N-1 = 7 DWConv-BN blocks starting from the 1::2 half; concat [odd + even, cascade_1..7] (c2/2 channels);
  PW c2/2 -> c2. The residual (c1 == c2) never fires inside TinyU-Net. The paper's N counts groups.
* 4 x (CMRF -> 2x2 max-pool) encoder 64-128-256-512, no bottleneck, 4 x (bicubic x2 -> concat [up, skip]
  -> CMRF) decoder, 1x1 head with bias.
* Params: 481,105 (3->1), 481,170 (3->2, the paper's 0.48M), 481,089 (1->1).

Upsampling (export trap, MODELS.md section 7): the reference uses `F.interpolate(mode="bicubic",
align_corners=False)`, which exports as a cubic ONNX Resize that ONNX Runtime runs ~6x slower than PyTorch.
`upsample="conv"` (default) computes the *same* function with fixed-filter depthwise convs: at scale 2
every output row/column is one of two phases with constant 4-tap cubic weights (A=-0.75, t=0.75 / 0.25);
PyTorch clamps out-of-range taps to the border, which replicate padding by 2 reproduces exactly. One
vertical (5x1) and one horizontal (1x5) depthwise conv produce the 4 phases, `pixel_shuffle` interleaves
them. `upsample="interpolate"` keeps the original call for comparison. It is never replaced by bilinear.
The fixed kernels are non-persistent buffers run through `F.conv2d`: the state_dict holds the reference's
tensors only (module names differ from the reference's), and the MAC counter does not count them (thop
ignores functional interpolate too).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from edgeseg.models.registry import register_model

CUBIC_A = -0.75  # PyTorch's bicubic coefficient (also the ONNX Resize default)


def _cubic_weights(t: float, a: float = CUBIC_A) -> list[float]:
    """Keys cubic convolution weights for taps at offsets -1, 0, 1, 2 from floor(src), fraction t."""

    def near(x: float) -> float:  # |x| <= 1
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x: float) -> float:  # 1 < |x| < 2
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    return [far(t + 1), near(t), near(1 - t), far(2 - t)]


def bicubic_phase_filters() -> torch.Tensor:
    """(2, 5) taps over input offsets -2..+2 for output phase 0 (row 2i) and phase 1 (row 2i+1).

    align_corners=False, scale 2: src(2i) = i - 0.25 -> floor i-1, t=0.75; src(2i+1) = i + 0.25 -> floor i, t=0.25.
    """
    f = torch.zeros(2, 5, dtype=torch.float64)
    f[0, 0:4] = torch.tensor(_cubic_weights(0.75), dtype=torch.float64)  # taps i-2 .. i+1
    f[1, 1:5] = torch.tensor(_cubic_weights(0.25), dtype=torch.float64)  # taps i-1 .. i+2
    return f


class BicubicUpsample2x(nn.Module):
    """Exact `F.interpolate(x, scale_factor=2, mode="bicubic", align_corners=False)` for a fixed channel count."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.channels = channels
        f = bicubic_phase_filters().float()
        # vertical: channel c -> 2c + a (phase a rows); horizontal: 2c + a -> 4c + 2a + b (pixel_shuffle order)
        self.register_buffer("wv", f.view(2, 1, 5, 1).repeat(channels, 1, 1, 1), persistent=False)
        self.register_buffer("wh", f.view(2, 1, 1, 5).repeat(2 * channels, 1, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = self.channels
        x = F.pad(x, (2, 2, 2, 2), mode="replicate")
        x = F.conv2d(x, self.wv, groups=c)  # (N, 2C, H, W+4)
        x = F.conv2d(x, self.wh, groups=2 * c)  # (N, 4C, H, W)
        return F.pixel_shuffle(x, 2)


class ConvUnit(nn.Module):
    """YOLO-style Conv: conv (no bias, autopad) -> BN(eps=1e-3, momentum=0.03) -> GELU (or identity)."""

    def __init__(self, c1: int, c2: int, k: int = 1, groups: int = 1, act: bool = True) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c1, c2, k, 1, k // 2, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(c2, eps=1e-3, momentum=0.03)
        self.act = nn.GELU() if act else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))


class CMRF(nn.Module):
    """Cascade Multi-Receptive Fields module (c1 -> c2, N groups, expansion 0.5)."""

    def __init__(self, c1: int, c2: int, n_groups: int = 8, e: float = 0.5) -> None:
        super().__init__()
        if c2 % (2 * n_groups):
            raise ValueError(f"CMRF output width {c2} must be divisible by {2 * n_groups}")
        c = int(c2 * e / n_groups)
        self.add = c1 == c2
        self.pwconv1 = ConvUnit(c1, c2 // n_groups, 1)
        self.pwconv2 = ConvUnit(c2 // 2, c2, 1)
        self.m = nn.ModuleList(ConvUnit(c, c, 3, groups=c, act=False) for _ in range(n_groups - 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.pwconv1(x)
        odd, even = y[:, 0::2], y[:, 1::2]
        outs = [odd + even]
        last = even
        for m in self.m:  # cascade: each block reads the previous block's output
            last = m(last)
            outs.append(last)
        y = self.pwconv2(torch.cat(outs, dim=1))
        return x + y if self.add else y


class Decoder(nn.Module):
    def __init__(self, up_channels: int, skip_channels: int, out_channels: int, upsample: str) -> None:
        super().__init__()
        self.upsample = upsample
        self.up = BicubicUpsample2x(up_channels) if upsample == "conv" else None
        self.cmrf = CMRF(up_channels + skip_channels, out_channels)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        if self.up is not None:
            x = self.up(x)
        else:
            x = F.interpolate(x, scale_factor=2, mode="bicubic", align_corners=False)
        return self.cmrf(torch.cat([x, skip], dim=1))


class TinyUNet(nn.Module):
    def __init__(self, in_channels: int = 3, num_classes: int = 2, upsample: str = "conv") -> None:
        super().__init__()
        if upsample not in ("conv", "interpolate"):
            raise ValueError(f"upsample must be 'conv' or 'interpolate', got {upsample!r}")
        w = [64, 128, 256, 512]
        self.encoders = nn.ModuleList(CMRF(c1, c2) for c1, c2 in zip([in_channels, *w[:-1]], w, strict=True))
        self.pool = nn.MaxPool2d(2, 2)
        # decoder4: up 512 + skip 512 -> 512; decoder3: 512 + 256 -> 256; ... (in_filters 1024/768/384/192)
        self.decoders = nn.ModuleList([
            Decoder(512, 512, 512, upsample), Decoder(512, 256, 256, upsample),
            Decoder(256, 128, 128, upsample), Decoder(128, 64, 64, upsample),
        ])
        self.final_conv = nn.Conv2d(64, num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for enc in self.encoders:
            x = enc(x)
            skips.append(x)
            x = self.pool(x)
        for dec in self.decoders:
            x = dec(x, skips.pop())
        return self.final_conv(x)


@register_model(
    summary="TinyU-Net: CMRF modules, bicubic decoder, ~0.48M (option upsample='conv'|'interpolate')",
    reference_input=(3, 256, 256),
    paper_inputs={"ISIC": (3, 256, 256)},
    size_multiple=16,
    reference_params=481_105,
    source="ChenJunren-Lab/TinyU-Net @73147721 TinyU-Net.py (N=8)",
)
def tinyunet(in_channels: int, num_classes: int, **kw: Any) -> TinyUNet:
    """TinyU-Net; see TinyUNet for its options (upsample=...)."""
    return TinyUNet(in_channels, num_classes, **kw)
