"""The study's speed targets, per x86 ISA class (issues 4, 12 and 24), and the judged ratios of a results file.

The same graphs give different ratios on different CPUs: dense convolutions gain more from AVX-512, and INT8
gains most with VNNI (measured: TinyU-Net / U-Net 0.214 on AVX-512 VNNI, 0.188 on AVX2; U-Lite 0.069 / 0.032).
So a target is kept per class (`edgeseg.bench.machine.isa_class`), and a run on a CPU of no known class (ARM,
flags not recorded) is reported without judging, saying so.
"""

from __future__ import annotations

from typing import Any

from edgeseg.bench.machine import isa_class
from edgeseg.bench.speedups import Targets, compute_ratios

# best p50 / U-Net ORT FP32 p50 (lower is better): issue 12's shares; issue 24 keeps SD-UNet <= 0.25 on both ISAs.
_SHARES = {"tinyunet": 0.20, "sdunet": 0.25, "ulite": 0.04}
TARGETS: dict[str, Targets] = {
    # U-Net INT8 (the ORT layout) >= 2x its FP32 is a VNNI target: without VNNI the INT8 kernels gain less,
    # and the figure is reported beside it, not judged.
    "avx512-vnni": {"best_vs_unet_fp32": _SHARES, "best_vs_torch": {"*": 3.0}, "int8io_vs_fp32": {"unet": 2.0}},
    "avx512": {"best_vs_unet_fp32": _SHARES, "best_vs_torch": {"*": 3.0}},
    "avx2": {"best_vs_unet_fp32": _SHARES, "best_vs_torch": {"*": 3.0}},
}


def targets_for(doc: dict[str, Any]) -> tuple[Targets | None, str]:
    """(the targets for the CPU that made `doc`, a line saying which class, or why none judges)."""
    flags = ((doc.get("env") or {}).get("cpu") or {}).get("flags")
    cls = isa_class(flags)
    if cls is None:
        return None, f"ISA class unknown (flags: {', '.join(flags or []) or 'none recorded'}): ratios not judged"
    return TARGETS[cls], f"ISA class {cls}: targets of that class"


def judged_ratios(doc: dict[str, Any]) -> tuple[list[dict[str, Any]], str]:
    """The ratios of a results document judged against its CPU's class targets, and the class line."""
    targets, note = targets_for(doc)
    return compute_ratios(doc, targets), note
