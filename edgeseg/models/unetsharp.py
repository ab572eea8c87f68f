"""UNet# / UNet-sharp (Qian, Zhou, Li, Hu, arXiv 2205.11759; code qianledan/UNet_sharp @3965cf8 models/UNet#.py).

Nodes X(i,j), i = depth (width nb[i], nb = 32-64-128-256-512), j = column; every node is a VGGBlock
([3x3 conv (bias) -> BN -> ReLU] x 2). X(i,0) = VGG(maxpool2(X(i-1,0))); for j >= 1 the node concatenates
(code's order) its row's earlier nodes X(i,0..j-1), then up2(X(i+1,j-1)) and the "full-scale" links
up_{2^k}(X(i+k, j-k)) for k = 2..j (bilinear, align_corners=True, no channel reduction), e.g.
X0,4 = VGG([X0,0, X0,1, X0,2, X0,3, up2(X1,3), up4(X2,2), up8(X3,1), up16(X4,0)]) with 1088 input channels.

Deep supervision (paper Sec. 2.2, code ``deep_supervision=True``): 1x1 heads on X0,1..X0,4 and 3x3 heads on
X4,0, X3,1, X2,2, X1,3 upsampled x16, x8, x4, x2 to full size; branch order as in the code
[X0,1, X0,2, X0,3, X4,0, X3,1, X2,2, X1,3, X0,4].

Options
* ``level`` L in {1,2,3,4} (Sec. 2.4 pruning): only the nodes with i + j <= L and the heads that level uses are
  built, so L1/L2/L3/L4 = 103,041 / 555,969 / 2,531,073 / 10,748,481 params (3->1, one head; LEVEL_PARAMS).
  The code instead builds everything and returns early from ``forward(x, l)``. The levels are nested: a level's
  weights are a subset of a deeper one's (same names), so ``prune_to_level`` cuts a trained L4 down with no new
  weight, which is the paper's "embedded training then prune". Each level is also registered as its own variant
  ``unetsharp_l1`` .. ``unetsharp_l4`` (= ``unetsharp`` with that level; tables name it ``unetsharp-l<k>``,
  edgeseg.names.level_name).
* ``deep_supervision``: builds every head of the level (L4: 8 heads, 10,757,224 params); in train mode the model
  returns the list of branch logits (the trainer averages the loss over them, paper Fig. 4). A level L < 4 has
  only the L branches X0,1..X0,L (the decoder heads sit on the i + j = 4 diagonal). Without deep supervision
  train mode returns the same single tensor as eval mode.
* ``mode``: "fast" (eval output = the level's X0,L head: the pruned network) or "accurate" (eval output = the mean
  of all the level's branch outputs). The paper (after UNet++) only says the branch outputs "will be averaged";
  it does not say whether before or after the sigmoid. We average **logits**: the result stays a logit
  (the toolkit's output contract) and exports as plain Add/Mul; averaging probabilities would need a logit()
  that is unstable in FP16.
* ``cgm``: classification-guided module (Sec. 2.3). No released code has it (the repo's UNet3+ file neither), so it
  is built from the text, simplified to one classifier in the style of UNet3+'s CGM: Dropout(0.5) -> 1x1 conv ->
  AdaptiveMaxPool2d(1) -> sigmoid on the deepest encoder node of the level (X4,0 at L4; X(L,0) for L < 4),
  giving p = P(foreground present). It gates every branch in probability-odds space: logits + log(p), i.e. the
  foreground odds are multiplied by p (p -> 0 drives every foreground probability to 0, p = 1 leaves the branch
  unchanged). Choices vs the paper: the paper has two CGM variants (a deeper MLP on avg+max pooled features for
  X4,0 / X3,1, a simpler one for the other six branches), a 2-way softmax + argmax hard 0/1 gate trained with its
  own BCE loss; we use one soft, differentiable gate trained through the segmentation loss. Multiplying raw
  logits by 0/1 as UNet3+'s code does would map "absent" to probability 0.5, not 0. For num_classes > 1 the gate
  applies to channels 1..K-1 (channel 0 = background).

Paper vs code
* Params: the paper reports 9.71M for the full model; the code's layout gives 10.75M (L1-L3 match the paper's
  0.10/0.56/2.53M). Paper 9.71M vs code 10.75M: we implement the code's layout; the paper figure is kept for the
  claims check.
* The paper puts a ReLU after every head conv and compares the decoder branches with down-scaled ground truth;
  the code's heads are plain convs and the decoder branches are upsampled to full size. We follow the code
  (a ReLU on logits would forbid negative logits).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from edgeseg.errors import EdgesegError
from edgeseg.models.registry import create_model, register_model
from edgeseg.names import FULL_LEVEL, UNETSHARP, check_level

WIDTHS = (32, 64, 128, 256, 512)
# Params of each level (3->1, the one head fast mode uses), from the code's layout; MODELS.md section 5.
LEVEL_PARAMS = {1: 103_041, 2: 555_969, 3: 2_531_073, 4: 10_748_481}
# Branch order of the code's deep-supervision list.
_BRANCHES_L4 = ((0, 1), (0, 2), (0, 3), (4, 0), (3, 1), (2, 2), (1, 3), (0, 4))


class VGGBlock(nn.Sequential):
    """[3x3 conv (with bias) -> BN -> ReLU] x 2, as the code's ``VGGBlock``."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__(
            nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
            nn.Conv2d(cout, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
        )


def _up(x: torch.Tensor, factor: int) -> torch.Tensor:
    if factor == 1:
        return x
    return F.interpolate(x, scale_factor=float(factor), mode="bilinear", align_corners=True)


def _key(i: int, j: int) -> str:
    return f"x{i}_{j}"


class CGM(nn.Module):
    """Classifier on the deepest encoder feature: Dropout -> 1x1 conv -> global max pool -> presence logit."""

    def __init__(self, channels: int, dropout: float = 0.5) -> None:
        super().__init__()
        self.drop = nn.Dropout(dropout)
        self.conv = nn.Conv2d(channels, 1, 1)
        self.pool = nn.AdaptiveMaxPool2d(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return log p(present), shape N x 1 x 1 x 1 (sigmoid folded into logsigmoid for stability)."""
        return F.logsigmoid(self.pool(self.conv(self.drop(x))))


class UNetSharp(nn.Module):
    def __init__(self, in_channels: int = 3, num_classes: int = 1, level: int = 4, deep_supervision: bool = False,
                 mode: str = "fast", cgm: bool = False) -> None:
        super().__init__()
        if level not in (1, 2, 3, 4):
            raise EdgesegError(f"unetsharp: level must be 1, 2, 3 or 4, got {level!r}; pass level=1..4")
        if mode not in ("fast", "accurate"):
            raise EdgesegError(f"unetsharp: mode must be 'fast' or 'accurate', got {mode!r}; pass one of them")
        self.level, self.deep_supervision, self.mode = level, bool(deep_supervision), mode
        self.num_classes = num_classes
        nb = WIDTHS
        # Nodes in dependency order: by diagonal d = i + j, then by column j.
        self.order = [(d - j, j) for d in range(level + 1) for j in range(d + 1)]
        self.nodes = nn.ModuleDict()
        for i, j in self.order:
            if j == 0:
                cin = in_channels if i == 0 else nb[i - 1]
            else:
                cin = j * nb[i] + sum(nb[i + k] for k in range(1, j + 1))
            self.nodes[_key(i, j)] = VGGBlock(cin, nb[i])
        self.branches = list(_BRANCHES_L4) if level == 4 else [(0, j) for j in range(1, level + 1)]
        # Fast mode without deep supervision needs only the final head (the pruned network).
        headed = self.branches if (self.deep_supervision or mode == "accurate") else [(0, level)]
        self.heads = nn.ModuleDict({
            _key(i, j): nn.Conv2d(nb[i], num_classes, 1 if i == 0 else 3, padding=0 if i == 0 else 1)
            for i, j in headed
        })
        self.cgm = CGM(nb[level]) if cgm else None

    def _gate(self, logits: torch.Tensor, log_p: torch.Tensor | None) -> torch.Tensor:
        if log_p is None:
            return logits
        if self.num_classes == 1:
            return logits + log_p
        return torch.cat([logits[:, :1], logits[:, 1:] + log_p], dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor | list[torch.Tensor]:
        feats: dict[tuple[int, int], torch.Tensor] = {}
        for i, j in self.order:
            if j == 0:
                inp = x if i == 0 else F.max_pool2d(feats[(i - 1, 0)], 2)
            else:
                parts = [feats[(i, m)] for m in range(j)]
                parts += [_up(feats[(i + k, j - k)], 2**k) for k in range(1, j + 1)]
                inp = torch.cat(parts, dim=1)
            feats[(i, j)] = self.nodes[_key(i, j)](inp)
        log_p = self.cgm(feats[(self.level, 0)]) if self.cgm is not None else None
        all_branches = (self.training and self.deep_supervision) or self.mode == "accurate"
        # Fast-mode inference evaluates only the level's final head (the other heads are pruned).
        wanted = self.branches if all_branches else [(0, self.level)]
        outs = [self._gate(_up(self.heads[_key(i, j)](feats[(i, j)]), 2**i), log_p) for i, j in wanted]
        if self.training and self.deep_supervision:
            return outs
        if self.mode == "accurate":
            return torch.stack(outs).mean(dim=0)
        return outs[0]


_INFO: dict[str, Any] = {
    "reference_input": (3, 96, 96),
    "paper_inputs": {"DSB2018": (3, 96, 96)},
    "size_multiple": 16,
    "source": "qianledan/UNet_sharp @3965cf8 models/UNet#.py (UNet_sharp); CGM from paper Sec. 2.3 (no code)",
}


@register_model(
    summary="UNet# (dense + full-scale skips, VGG blocks 32-512), pruning levels L1-L4; code 10.75M (paper 9.71M)",
    reference_params=LEVEL_PARAMS[FULL_LEVEL], **_INFO)
def unetsharp(in_channels: int, num_classes: int, **kw: Any) -> UNetSharp:
    """UNet#; see UNetSharp for its options (pruning level, deep supervision)."""
    return UNetSharp(in_channels, num_classes, **kw)


# One named factory per level (timm style: no generated functions). A `level` option is refused: the name says it.
@register_model(summary="UNet# level 1 (nodes i+j <= 1, X0,1 head) = unetsharp level=1",
                reference_params=LEVEL_PARAMS[1], variant_of=UNETSHARP, **_INFO)
def unetsharp_l1(in_channels: int, num_classes: int, **kw: Any) -> UNetSharp:
    """UNet# pruned to level 1; the other UNetSharp options as unetsharp."""
    return UNetSharp(in_channels, num_classes, level=1, **kw)


@register_model(summary="UNet# level 2 (nodes i+j <= 2, X0,2 head) = unetsharp level=2",
                reference_params=LEVEL_PARAMS[2], variant_of=UNETSHARP, **_INFO)
def unetsharp_l2(in_channels: int, num_classes: int, **kw: Any) -> UNetSharp:
    """UNet# pruned to level 2; the other UNetSharp options as unetsharp."""
    return UNetSharp(in_channels, num_classes, level=2, **kw)


@register_model(summary="UNet# level 3 (nodes i+j <= 3, X0,3 head) = unetsharp level=3",
                reference_params=LEVEL_PARAMS[3], variant_of=UNETSHARP, **_INFO)
def unetsharp_l3(in_channels: int, num_classes: int, **kw: Any) -> UNetSharp:
    """UNet# pruned to level 3; the other UNetSharp options as unetsharp."""
    return UNetSharp(in_channels, num_classes, level=3, **kw)


@register_model(summary="UNet# level 4, the full network (X0,4 head) = unetsharp",
                reference_params=LEVEL_PARAMS[4], variant_of=UNETSHARP, **_INFO)
def unetsharp_l4(in_channels: int, num_classes: int, **kw: Any) -> UNetSharp:
    """UNet# at level 4 (the full network); the other UNetSharp options as unetsharp."""
    return UNetSharp(in_channels, num_classes, level=4, **kw)


def _config_of_state(state: Mapping[str, torch.Tensor]) -> dict[str, Any]:
    """in/out channels and options of the UNet# a bare state dict came from (mode cannot be read: "fast")."""
    first = state.get("nodes.x0_0.0.weight")
    heads = [v for k, v in state.items() if k.startswith("heads.") and k.endswith(".weight")]
    if first is None or not heads:
        raise EdgesegError("prune_to_level: the state dict is not a UNet#'s (no nodes.x0_0 / heads weights); "
                           "pass a unetsharp model or its state_dict()")
    level = max(int(i) + int(j) for i, j in (k.split(".")[1][1:].split("_") for k in state if k.startswith("nodes.")))
    return {"in_channels": int(first.shape[1]), "num_classes": int(heads[0].shape[0]),
            "options": {"level": level, "cgm": "cgm.conv.weight" in state}}


def prune_to_level(source: nn.Module | Mapping[str, torch.Tensor], level: int) -> UNetSharp:
    """The level-`level` UNet# holding a deeper UNet#'s weights, without deep supervision, in eval mode.

    The levels are nested: level L's nodes X(i,j), i + j <= L, and its X0,L head are the deeper network's own
    tensors, so in fast mode the pruned network's output is the deeper network's X0,L deep-supervision branch
    (in accurate mode: the mean of its branches X0,1..X0,L, or all 8 at L4). `source`: a UNet# module (its recorded
    edgeseg_config, else its attributes, gives the channels and options such as mode) or its state dict
    (channels and CGM read from the weights, mode "fast"). Refused: a level outside 1..4, a source without that
    level's head (trained without deep supervision), a CGM network cut to another level (the classifier sits on
    X(L,0), a different width per level).
    """
    check_level(level)
    if isinstance(source, nn.Module):
        if not isinstance(source, UNetSharp):
            raise EdgesegError(f"prune_to_level: {type(source).__name__} is not a UNet#; pass a unetsharp model")
        config = getattr(source, "edgeseg_config", None) or {
            "in_channels": source.nodes["x0_0"][0].in_channels, "num_classes": source.num_classes,
            "options": {"mode": source.mode, "cgm": source.cgm is not None}}
        config = {**config, "options": {**config.get("options", {}), "level": source.level}}
        state = source.state_dict()
    else:
        config, state = _config_of_state(source), source
    options = {**config.get("options", {}), "level": level, "deep_supervision": False}
    deeper = config["options"]["level"]
    if options.get("cgm") and level != deeper:
        raise EdgesegError(f"prune_to_level: a UNet# with CGM cannot be cut from level {deeper} to {level} (its "
                           "classifier's width differs per level); prune a network trained without cgm")
    # Built as `unetsharp` with option level (not the unetsharp_l<k> variant): the config pruned runs record.
    model = create_model(UNETSHARP, config["in_channels"], config["num_classes"], **options)
    try:
        missing, _unused = model.load_state_dict(state, strict=False)
    except RuntimeError as e:  # same names, other shapes: another width or channel count
        first = next((ln.strip() for ln in str(e).splitlines()[1:] if ln.strip()), type(e).__name__)
        raise EdgesegError(f"prune_to_level: the weights do not fit a level-{level} UNet# ({first[:160]}); pass "
                           "a unetsharp network's own state dict") from None
    if missing:
        raise EdgesegError(f"prune_to_level: level {level} weights missing from the level-{deeper} network: "
                           f"{missing[:3]}; prune a network trained with deep_supervision=true (every head)")
    return model.eval()
