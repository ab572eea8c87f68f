"""SD-UNet (Stripped-Down U-Net; Gadosey et al., Diagnostics 2020, 10(2):110, doi 10.3390/diagnostics10020110).

No official code exists (`pgadosey/SD-UNet` holds only a LICENSE), so this is the reconstruction of
MODELS.md section 6: the zhixuhao/unet Keras U-Net (model.py) with every Conv2D except the first replaced
by a Keras-style SeparableConv2D -- depthwise k x k (no bias) + pointwise 1x1 (with bias) -- including the
2x2 up-convs and the 3x3 2-channel pre-head conv; the 1x1 head stays standard.

* Weight standardization (WS; Qiao et al.) on every depthwise kernel (paper eq. 7),
  W_hat = (W - mean(W)) / (std(W) + 1e-5), unbiased std as in the WS reference code. Over which axis is the
  paper's open question (Keras era, no code), so it is an option, `ws=`:
  - "channel": one mean/std per depthwise channel. A 3x3 kernel with zero mean is a high-pass filter; stacked
    with no residual path, the network loses flat regions (the interior of a nucleus or a polyp).
  - "layer": one mean/std for the whole depthwise layer. This is what a Keras WS layer written for Conv2D
    kernels (kh, kw, cin, cout), standardising over axes 0-2 per cout, does to a DepthwiseConv2D kernel
    (kh, kw, cin, 1): each channel keeps its DC gain.
  - "none": plain depthwise kernels (the ablation's control).
  The default, DEFAULT_WS, was chosen on VALIDATION splits only (see its comment); a checkpoint that records
  no `ws` was trained per channel and loads as "channel" (ModelInfo.legacy_options).
* `norm="gn"` (default, the paper) or `"bn"` (BatchNorm, for the GN-vs-BN ablation).
* GroupNorm (32 groups: the paper's ablation "GN = 32") once per double-conv block, after the block's
  second ReLU (paper: "two DS convs, two activations, one GN"; Block1: "conv, ReLU, GN"). The up-convs
  and the pre-head conv have no GN. The exact position of GN inside a block is not given by the paper.
* Dropout 0.5 after encoder stages 4 and 5 (zhixuhao layout). Up path: nearest x2 -> separable 2x2 conv
  with Keras 'same' padding (pads bottom/right by one) -> ReLU -> concat [skip, up].
* Params: 3,907,973 at 1->1 (MODELS.md; matches the paper's "3.9M"). Paper vs MODELS.md: the paper's
  Block1 is "a standard conv"; the count 3,907,973 keeps zhixuhao's two convs in Block1 (first standard,
  second separable); with a single conv it would be 3,903,237.
* Not verified (no code): GN group count, dropout rate, WS on the 2x2 depthwise kernels (we apply it to all
  depthwise kernels), GN position inside a block.

Export hook: `SDUNet.fold_for_export()` writes the standardized kernels into the depthwise weights and
switches WS off, so the exported ONNX graph holds plain depthwise convs (no mean/std arithmetic on weights), and
switches GroupNorm to an equivalent short-reduction form (see `ExportGroupNorm`: ONNX Runtime's InstanceNorm
over 131k elements drifts ~1e-4 at 256x256, failing the export check). It changes
the module in place (same outputs) and returns it; call it on a copy (`copy.deepcopy`) if you keep training.
The folded state is a Python flag, not saved in the state_dict: do not save a folded model as a checkpoint
(reloading it would standardize the kernels again, a ~1e-5 relative change).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from edgeseg.errors import EdgesegError
from edgeseg.models.registry import register_model

WS_EPS = 1e-5
WS_MODES = ("channel", "layer", "none")
NORMS = ("gn", "bn")
# The output end. "zhixuhao" (default; MODELS.md's count): a separable 3x3 conv to 2 channels + ReLU, then a
# standard 1x1 head -- the Keras reference layout, OUR reading: the paper never mentions 2 channels. A
# 2-channel ReLU bottleneck can die (both channels <= 0 everywhere: a constant output; the campaign's
# collapsed SD-UNet seeds). "paper": the paper's words, "two depthwise separable layers with the last one as
# the final prediction layer" (section 3.2, decoder Block 5): a separable 3x3 conv at the block's width + ReLU,
# then a separable 3x3 conv to the classes as the prediction layer (width of the first not given: kept).
HEADS = ("zhixuhao", "paper")
# Chosen on VALIDATION Dice only, never test images (benchmarks/results/campaign/<set>/sdunet-ws-*/*.json,
# "val_dice"; same split, recipe and seed, only `ws` differs). DSB 2018 (70 train / 30 val, 96x96, seed 0):
# layer 0.868, none 0.862, channel 0.375 -- per-channel WS does not learn the nuclei' flat interiors, per-layer
# WS learns and is at least as good as no WS, and it is the reading that keeps the paper's WS step.
DEFAULT_WS = "layer"


class WSDepthwiseConv2d(nn.Conv2d):
    """Depthwise conv whose kernel is weight-standardized per channel or per layer (until folded)."""

    def __init__(self, channels: int, kernel_size: int, padding: int = 0, ws: str = DEFAULT_WS) -> None:
        super().__init__(channels, channels, kernel_size, padding=padding, groups=channels, bias=False)
        self.ws = ws
        self.standardize = ws != "none"

    def standardized_weight(self) -> torch.Tensor:
        w = self.weight
        flat = w.flatten(1) if self.ws == "channel" else w.reshape(1, -1)  # (C, k*k) or (1, C*k*k)
        mean = flat.mean(dim=1).view(-1, 1, 1, 1)
        std = flat.std(dim=1).view(-1, 1, 1, 1) + WS_EPS
        return (w - mean) / std

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.standardized_weight() if self.standardize else self.weight
        return F.conv2d(x, w, None, self.stride, self.padding, self.dilation, self.groups)

    @torch.no_grad()
    def fold(self) -> None:
        if self.standardize:
            self.weight.copy_(self.standardized_weight())
            self.standardize = False


class SeparableConv2d(nn.Sequential):
    """Keras SeparableConv2D: depthwise k x k (WS, no bias) -> pointwise 1x1 (bias).

    Keras 'same' padding: odd k pads k//2 on each side; even k (the 2x2 up-convs) pads bottom/right only.
    """

    def __init__(self, cin: int, cout: int, k: int = 3, ws: str = DEFAULT_WS) -> None:
        layers: list[nn.Module] = []
        if k % 2 == 0:
            layers.append(nn.ZeroPad2d((0, k - 1, 0, k - 1)))  # (left, right, top, bottom)
            layers.append(WSDepthwiseConv2d(cin, k, padding=0, ws=ws))
        else:
            layers.append(WSDepthwiseConv2d(cin, k, padding=k // 2, ws=ws))
        layers.append(nn.Conv2d(cin, cout, 1, bias=True))
        super().__init__(*layers)


class ExportGroupNorm(nn.GroupNorm):
    """nn.GroupNorm (same parameters and state_dict keys) that, once `short_reductions` is set (by
    `SDUNet.fold_for_export`), computes the same statistics with short reductions for ONNX export.

    Why: the exporter maps GroupNorm to Reshape -> InstanceNormalization over (C/G)*H*W elements (131,072 at
    256x256), and ONNX Runtime's CPU InstanceNormalization / single-axis ReduceMean accumulate such long sums
    with a float32 relative error ~1e-4 (measured 7.9e-5 on the first block vs 1e-7 for PyTorch), which failed
    the ORT-vs-PyTorch export check at 256x256. Here the group mean (and variance) is a mean over each image
    row (W elements) followed by a mean over the (C/G)*H rows -- exactly the same maths, since all rows have
    the same length -- and ORT's error drops to ~2e-7 per GroupNorm.
    """

    short_reductions: bool = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.short_reductions:
            return super().forward(x)
        n, c, h, w = x.shape
        g = x.reshape(n, self.num_groups, -1, w)  # (N, G, (C/G)*H rows, W)
        rows = g.shape[-2]
        # Row means (ReduceMean over W), then their sum / rows (ReduceSum): two *different* reduce ops, because
        # onnxsim fuses two consecutive ReduceMeans back into one long ReduceMean over both axes.
        mean = g.mean(-1, keepdim=True).sum(-2, keepdim=True) / rows
        d = g - mean
        var = (d * d).mean(-1, keepdim=True).sum(-2, keepdim=True) / rows  # biased, as nn.GroupNorm
        y = (d / torch.sqrt(var + self.eps)).reshape(n, c, h, w)
        if self.affine:
            y = y * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)
        return y


def _norm(channels: int, groups: int, norm: str) -> nn.Module:
    return ExportGroupNorm(min(groups, channels), channels) if norm == "gn" else nn.BatchNorm2d(channels)


class SDBlock(nn.Sequential):
    """SD-UNet block: conv -> ReLU -> separable conv -> ReLU -> GN (the first conv is standard in Block1)."""

    def __init__(self, cin: int, cout: int, groups: int, first_standard: bool = False, ws: str = DEFAULT_WS,
                 norm: str = "gn") -> None:
        first = nn.Conv2d(cin, cout, 3, padding=1) if first_standard else SeparableConv2d(cin, cout, 3, ws)
        super().__init__(first, nn.ReLU(inplace=True), SeparableConv2d(cout, cout, 3, ws), nn.ReLU(inplace=True),
                         _norm(cout, groups, norm))


class UpConv(nn.Sequential):
    """Keras `Conv2D(c, 2, padding='same')(UpSampling2D(2)(x))`, made separable, + ReLU."""

    def __init__(self, cin: int, cout: int, ws: str = DEFAULT_WS) -> None:
        super().__init__(nn.Upsample(scale_factor=2, mode="nearest"), SeparableConv2d(cin, cout, 2, ws),
                         nn.ReLU(inplace=True))


class SDUNet(nn.Module):
    def __init__(self, in_channels: int = 1, num_classes: int = 1, base: int = 64, gn_groups: int = 32,
                 dropout: float = 0.5, ws: str = DEFAULT_WS, norm: str = "gn", head: str = "zhixuhao") -> None:
        super().__init__()
        if head not in HEADS:
            raise EdgesegError(f"sdunet: head={head!r}; choose one of {', '.join(HEADS)}")
        if ws not in WS_MODES:
            raise EdgesegError(f"sdunet: ws={ws!r}; choose one of {', '.join(WS_MODES)}")
        if norm not in NORMS:
            raise EdgesegError(f"sdunet: norm={norm!r}; choose one of {', '.join(NORMS)}")
        w = [base * 2**i for i in range(5)]
        self.enc = nn.ModuleList([SDBlock(in_channels, w[0], gn_groups, True, ws, norm)]
                                 + [SDBlock(w[i], w[i + 1], gn_groups, False, ws, norm) for i in range(4)])
        self.pool = nn.MaxPool2d(2)
        self.drop4 = nn.Dropout(dropout)
        self.drop5 = nn.Dropout(dropout)
        self.ups = nn.ModuleList(UpConv(w[i + 1], w[i], ws) for i in reversed(range(4)))
        self.decs = nn.ModuleList(SDBlock(2 * w[i], w[i], gn_groups, False, ws, norm) for i in reversed(range(4)))
        # zhixuhao: Conv2D(2, 3, relu) then Conv2D(1, 1, sigmoid); we return logits (no sigmoid). See HEADS.
        pre = 2 if head == "zhixuhao" else w[0]
        self.prehead = nn.Sequential(SeparableConv2d(w[0], pre, 3, ws), nn.ReLU(inplace=True))
        self.head = nn.Conv2d(2, num_classes, 1) if head == "zhixuhao" else SeparableConv2d(pre, num_classes, 3, ws)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for i, block in enumerate(self.enc):
            x = block(x if i == 0 else self.pool(x))
            if i == 3:
                x = self.drop4(x)
            skips.append(x)
        x = self.drop5(skips.pop())
        for up, dec in zip(self.ups, self.decs, strict=True):
            x = dec(torch.cat([skips.pop(), up(x)], dim=1))
        return self.head(self.prehead(x))

    def fold_for_export(self) -> SDUNet:
        """Fold weight standardization into the depthwise kernels and switch GroupNorm to its short-reduction
        export form (in place; outputs unchanged). See module doc."""
        for m in self.modules():
            if isinstance(m, WSDepthwiseConv2d):
                m.fold()
            elif isinstance(m, ExportGroupNorm):
                m.short_reductions = True
        return self


@register_model(
    summary="SD-UNet: separable-conv U-Net with weight standardization + GroupNorm, ~3.9M (reconstruction)",
    reference_input=(1, 256, 256),
    paper_inputs={"ISBI": (1, 256, 256)},
    size_multiple=16,
    reference_params=3_907_973,
    recorded_options={"ws": DEFAULT_WS, "norm": "gn"},
    legacy_options={"ws": "channel"},  # checkpoints from before the option existed were trained per channel
    source="Gadosey et al. 2020 (no official code); zhixuhao/unet model.py layout, MODELS.md section 6",
)
def sdunet(in_channels: int, num_classes: int, **kw: Any) -> SDUNet:
    """SD-UNet; see SDUNet for its options."""
    return SDUNet(in_channels, num_classes, **kw)
