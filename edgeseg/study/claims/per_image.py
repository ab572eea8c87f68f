"""Per-image cost at native size, from `edgeseg-native-table/1` files (benchmarks/native_table.py).

The papers time whole images, while the CPU matrix times one network input; a native-size image costs one
resized input or tens of tiles. These notes sit beside a speed claim's per-input ratios; the same-run
per-input rows still decide the verdict, because the native table times only four networks.
"""

from __future__ import annotations

from typing import Any

from edgeseg.study.claims.evidence import Evidence


def per_image_notes(ev: Evidence, model: str, base: str) -> list[str]:
    """The cost of a whole image at its native size (native_table.py, trained weights, ONNX Runtime FP32),
    shown beside the per-input ratios: the papers time whole images, and a tiled image costs tens of inputs.
    Only the networks trained on resized images are paired, so both sides ran the same number of tiles."""
    tables: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
    for r in ev.native:
        if not r.get("native_scale_training"):
            tables.setdefault((r["_file"], r["_dataset"]), {})[r["model"]] = r
    notes = []
    for (f, ds), pick in sorted(tables.items()):
        m, b = pick.get(model), pick.get(base)
        if m is None or b is None:
            continue
        for mode in ("resize", "tile"):
            tm, tb = m.get(f"ms_per_image_{mode}_fp32"), b.get(f"ms_per_image_{mode}_fp32")
            if tm and tb:
                notes.append(f"per image at native size, {ds}, {mode} ({m.get('n_images')} test images, "
                             f"{m.get('_threads')} threads, FP32): {base} {tb:.1f} ms / {model} {tm:.1f} ms "
                             f"= {tb / tm:.2f}x [{f}]")
    return notes

