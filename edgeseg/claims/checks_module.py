"""Module-level cost claims, counted (not measured) from our own module code at report time.

GPU-Net's Eq. 7-8 argue about one module, not the network: a ghost module's parameter compression ratio
against an ordinary convolution equals its FLOPs acceleration ratio, and the GP-module costs no more than a
ghost module. Both are properties of the module's layout, so we count them on our `GPModule` next to an
ordinary 3x3 convolution with the same channels and input. Like the paper's Eq. 5-6, the ratios count the
convolutions only; the totals with BatchNorm (`edgeseg.models.counting`) are shown beside.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from edgeseg.claims.verdicts import FAILS, HOLDS, ClaimRow


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


def check_module_cost(row: ClaimRow, t: dict[str, Any], ev: Any) -> None:
    """(a) params ratio == MACs ratio (within `tolerance`) for the GP-module and the ghost module against an
    ordinary conv; (b) the GP-module costs no more than the ghost module (params and MACs)."""
    from edgeseg.models.gpunet import GPModule

    cin, cout, (h, w), tol = int(t["cin"]), int(t["cout"]), t["size"], float(t["tolerance"])
    shape = (cin, int(h), int(w))
    conv = _cost(nn.Conv2d(cin, cout, 3, padding=1, bias=False), shape)
    mods = {"GP-module (s=6)": GPModule(cin, cout, 6, aspp=True),
            "ghost module (s=2)": GPModule(cin, cout, 2, aspp=False)}
    costs = {k: _cost(m, shape) for k, m in mods.items()}
    for name, m in mods.items():
        tp, tc = _total(m, shape)
        row.details.append(f"{name} with BatchNorm (shown beside, not deciding): {tp:,} params, {tc:,} MACs")
    verdicts, parts = [], []
    for name, (p, c) in costs.items():
        rs, rc = conv[0] / p, conv[1] / c
        ok = abs(rs / rc - 1) <= tol
        verdicts.append(HOLDS if ok else FAILS)
        parts.append(f"{name}: params ratio {rs:.2f}x, MACs ratio {rc:.2f}x")
        row.details.append(f"{name} vs 3x3 conv {cin}->{cout} at {h}x{w}: params {conv[0]:,} / {p:,} = {rs:.2f}x, "
                           f"MACs {conv[1]:,} / {c:,} = {rc:.2f}x -> {'equal' if ok else 'not equal'} within {tol:.0%}")
    (gp_p, gp_c), (gh_p, gh_c) = costs.values()
    cheaper = gp_p <= gh_p and gp_c <= gh_c
    verdicts.append(HOLDS if cheaper else FAILS)
    row.details.append(f"GP-module vs ghost module: params {gp_p:,} vs {gh_p:,}, MACs {gp_c:,} vs {gh_c:,} -> "
                       f"{'no extra cost' if cheaper else 'costs more'}")
    row.ours = "; ".join(parts)
    row.verdict = HOLDS if all(v == HOLDS for v in verdicts) else FAILS
    row.why = (f"counted on our GPModule, {cin}->{cout} channels at {h}x{w}: (a) params ratio equals MACs ratio "
               f"of the convolutions against an ordinary 3x3 conv (within {tol:.0%}); (b) GP-module <= ghost "
               "module in params and MACs")
