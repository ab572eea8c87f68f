"""Module-level cost claims, counted (not measured) from our own module code at report time.

GPU-Net's Eq. 7-8 argue about one module, not the network: a ghost module's parameter compression ratio
against an ordinary convolution equals its FLOPs acceleration ratio, and the GP-module costs no more than a
ghost module. Both are properties of the module's layout, so we count them on our `GPModule` next to an
ordinary 3x3 convolution with the same channels and input. Like the paper's Eq. 5-6, the ratios count the
convolutions only; the totals with BatchNorm (`edgeseg.models.counting`) are shown beside.
"""

from __future__ import annotations

import math
from typing import Any

from torch import nn

from edgeseg.study.claims.verdicts import FAILS, HOLDS, ClaimRow


def _cost(m: nn.Module, shape: tuple[int, int, int]) -> tuple[int, int]:
    """(params, MACs) of the module's convolutions, the paper's Eq. 5-6 convention (stride 1, same size)."""
    convs = [c for c in m.modules() if isinstance(c, nn.Conv2d)]
    if any(c.stride != (1, 1) for c in convs):
        raise ValueError("module cost assumes stride-1 convolutions")
    p = sum(c.weight.numel() for c in convs)
    return p, p * shape[1] * shape[2]


def _total(m: nn.Module, shape: tuple[int, int, int]) -> tuple[int, int]:
    from edgeseg.models.counting import count_macs, count_params

    return count_params(m), count_macs(m, shape)


def _ghost_same_s(cin: int, cout: int, s: int, shape: tuple[int, int, int]) -> tuple[int, int]:
    """Eq. 5-6's ghost module at ratio s with our primary (1x1) and s-1 depthwise 3x3 cheap ops (conv weights)."""
    m = math.ceil(cout / s)
    p = cin * m + (s - 1) * m * 9
    return p, p * shape[1] * shape[2]


def check_module_cost(row: ClaimRow, t: dict[str, Any], ev: Any) -> None:
    """(a) params ratio == MACs ratio (within `tolerance`) for the GP-module against an ordinary conv, and
    (b) the GP-module costs no more than a ghost module with the same ratio s (the paper's like-for-like)."""
    from edgeseg.models.gpunet import GPModule

    cin, cout, (h, w), tol, s = int(t["cin"]), int(t["cout"]), t["size"], float(t["tolerance"]), 6
    shape = (cin, int(h), int(w))
    conv = _cost(nn.Conv2d(cin, cout, 3, padding=1, bias=False), shape)
    gp_mod, gh2_mod = GPModule(cin, cout, s, aspp=True), GPModule(cin, cout, 2, aspp=False)
    gp, gh2, same = _cost(gp_mod, shape), _cost(gh2_mod, shape), _ghost_same_s(cin, cout, s, shape)
    rs, rc = conv[0] / gp[0], conv[1] / gp[1]
    equal = abs(rs / rc - 1) <= tol
    cheaper = gp[0] <= same[0] and gp[1] <= same[1]
    for name, m in (("GP-module (s=6)", gp_mod), ("Ghost U-Net's ghost module (s=2)", gh2_mod)):
        tp, tc = _total(m, shape)
        row.details.append(f"{name} with BatchNorm (shown beside, not deciding): {tp:,} params, {tc:,} MACs")
    row.details += [
        f"(a) GP-module (s={s}) vs 3x3 conv {cin}->{cout} at {h}x{w}: params {conv[0]:,} / {gp[0]:,} = {rs:.2f}x, "
        f"MACs {conv[1]:,} / {gp[1]:,} = {rc:.2f}x -> {'equal' if equal else 'not equal'} within {tol:.0%}. "
        f"Eq. 7-8 approximate both by s = {s} for a k x k primary conv; the code's primary is 1x1, which makes "
        f"the module {rs / s:.1f}x cheaper again",
        f"(b) GP-module vs a ghost module with the same s={s} (3x3 cheap ops, Eq. 5-6): params {gp[0]:,} vs "
        f"{same[0]:,}, MACs {gp[1]:,} vs {same[1]:,} -> {'no extra cost' if cheaper else 'costs more'} (dilation "
        "adds no weights; the code's 1x1 cheap op costs less than a 3x3)",
        f"shown beside: Ghost U-Net's ghost module (s=2): params {gh2[0]:,}, MACs {gh2[1]:,}; GPU-Net is lighter "
        "than Ghost U-Net because of s, not because of ASPP"]
    row.ours = (f"GP-module: params ratio {rs:.2f}x = MACs ratio {rc:.2f}x; {gp[0]:,} weights vs {same[0]:,} for a "
                f"same-s ghost module")
    row.verdict = HOLDS if equal and cheaper else FAILS
    row.evidence = ["edgeseg/models/gpunet.py (GPModule, counted when the report is built)"]
    row.why = (f"counted on our GPModule, {cin}->{cout} channels at {h}x{w}: (a) params ratio equals MACs ratio "
               f"of the convolutions against an ordinary 3x3 conv (within {tol:.0%}); (b) GP-module <= a ghost "
               f"module with the same s={s} in params and MACs")
