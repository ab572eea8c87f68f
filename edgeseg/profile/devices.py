"""Edge-device ceilings from published spec sheets, and each network's best-case latency on them (BOUNDS).

Every figure names its source (a URL) and, where it is derived rather than printed, how: a table entry without
a source is refused (`Figure`). NVIDIA publishes Jetson "AI performance" as sparse INT8 TOPS (2:4 structured
sparsity doubles the dense rate); our graphs are dense, so dense INT8 = sparse / 2 and, on Ampere tensor cores,
dense FP16 = dense INT8 / 2. For the Orin NX and AGX Orin, whose headline TOPS include the DLAs, the GPU's dense
INT8 rate is scaled from the Orin Nano's (GPU only: 20 dense TOPS on 1024 cores at 625 MHz, 31.25 ops per core
per clock) by CUDA cores x GPU clock.

The bounds are the roofline's per-op sum (edgeseg.profile.roofline) of the FP32 graph re-priced: FP16 = every
tensor 2 bytes and every FLOP at the FP16 tensor peak; INT8 = every tensor 1 byte, Conv/MatMul FLOPs at the INT8
peak, the rest at the FP16 peak. Optimistic on purpose (GroupNorm or GELU would not run in INT8): a bound that
no runtime can beat, not a prediction.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgeseg.errors import EdgesegError
from edgeseg.profile.roofline import Ceilings, fused_ideal_s, network_bound_s

NANO_PAGE = "https://www.brojogopalsapui.com/ai-foundations/sub_contents/AI_hardware/jetson_orin_nano_light.html"
NANO_BLOG = "https://ericxliu.me/posts/benchmarking-llms-on-jetson-orin-nano"
ULTRALYTICS = "https://docs.ultralytics.com/guides/nvidia-jetson/"  # NVIDIA's module table, reproduced
SPARSITY = "https://llmperf.net/categories/gpu/Nvidia-Jetson"  # sparse INT8 ~2x dense on Ampere; FP16 = INT8 / 2
PI5_BRIEF = "https://circuitdigest.com/news/the-new-raspberry-pi-5-is-here-faster-than-ever"
PI5_SPECS = "http://singleboard.org/Raspberry_Pi/pi_5_b/"
A76_GUIDE = "https://fdocuments.net/document/arm-cortex-a76-software-optimization-guide.html"
A76_PIPES = "https://www.systemonchips.com/arm-cortex-a76-asimd-instruction-latency-and-throughput-analysis"
RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "profile" / "device-bounds.json"
ORIN_OPS_PER_CORE_CLK = 20e12 / (1024 * 625e6)  # dense INT8, from the Orin Nano 8GB (GPU only)


@dataclass(frozen=True)
class Figure:
    value: float
    unit: str
    source: str
    derivation: str = ""

    def __post_init__(self) -> None:
        if not str(self.source).startswith(("http://", "https://")):
            raise EdgesegError(f"device figure {self.value} {self.unit}: no source URL ({self.source!r}); every "
                               f"table entry names the spec sheet it comes from")


@dataclass(frozen=True)
class Device:
    name: str
    compute_unit: str
    fp16: Figure  # dense TFLOP/s
    int8: Figure  # dense TOP/s
    bandwidth: Figure  # GB/s

    def ceilings(self, precision: str) -> Ceilings:
        fp16 = self.fp16.value * 1e3
        peaks = {"float": fp16, "int8": self.int8.value * 1e3 if precision == "int8" else fp16}
        return Ceilings(peaks, self.bandwidth.value, f"{self.name} {precision}")


def _orin_gpu(name: str, cores: int, mhz: float, bw: float, src: str) -> Device:
    int8 = cores * mhz * 1e6 * ORIN_OPS_PER_CORE_CLK / 1e12
    how = f"{cores} CUDA cores x {mhz:g} MHz x {ORIN_OPS_PER_CORE_CLK:.2f} dense INT8 ops/core/clock (Orin Nano's)"
    return Device(name, f"GPU ({cores}-core Ampere)", Figure(round(int8 / 2, 1), "TFLOP/s", src, how + " / 2"),
                  Figure(round(int8, 1), "TOP/s", src, how), Figure(bw, "GB/s", src))


DEVICES: tuple[Device, ...] = (
    Device("Jetson Orin Nano 8GB (15 W)", "GPU (1024-core Ampere, 625 MHz)",
           Figure(10.0, "TFLOP/s", NANO_BLOG, "printed as 10 TFLOPS FP16; = 20 dense INT8 TOPS / 2"),
           Figure(20.0, "TOP/s", NANO_PAGE, "40 sparse INT8 TOPS / 2 (2:4 sparsity, see " + SPARSITY + ")"),
           Figure(68.0, "GB/s", NANO_PAGE)),
    Device("Jetson Orin Nano 8GB Super (25 W)", "GPU (1024-core Ampere, 1020 MHz)",
           Figure(16.75, "TFLOP/s", NANO_PAGE, "67 sparse INT8 TOPS / 2 / 2"),
           Figure(33.5, "TOP/s", NANO_PAGE, "67 sparse INT8 TOPS / 2"),
           Figure(102.0, "GB/s", ULTRALYTICS)),
    _orin_gpu("Jetson Orin NX 16GB", 1024, 918, 102.4, ULTRALYTICS),
    _orin_gpu("Jetson AGX Orin 64GB", 2048, 1300, 204.8, ULTRALYTICS),
    Device("Raspberry Pi 5 (CPU)", "CPU (4x Cortex-A76, 2.4 GHz)",
           Figure(0.3072, "TFLOP/s", PI5_SPECS, "4 cores x 2.4 GHz x 2 ASIMD pipes (" + A76_PIPES + ") x 8 FP16 "
                  "lanes x 2 (FMA); 2 pipes per " + A76_GUIDE),
           Figure(0.6144, "TOP/s", PI5_SPECS, "4 cores x 2.4 GHz x 2 ASIMD pipes x 16 INT8 SDOT MACs x 2"),
           Figure(17.07, "GB/s", PI5_BRIEF, "32-bit LPDDR4X at 4267 MT/s: 4267e6 x 4 bytes")),
)


def device_bounds(ops: list[dict[str, Any]], io_weight_elems: float, devices: tuple[Device, ...] = DEVICES
                  ) -> list[dict[str, Any]]:
    """ops: [{"flops", "elems", "op_type"}] of a network's graph -> per device and precision the per-op bound
    and the fused-ideal bound in ms (bounds, not measurements)."""
    rows = []
    for d in devices:
        for prec, size in (("fp16", 2), ("int8", 1)):
            c = d.ceilings(prec)
            triples = [(o["flops"], o["elems"] * size,
                        "int8" if prec == "int8" and o["op_type"] in ("Conv", "ConvTranspose", "MatMul", "Gemm")
                        else "float") for o in ops]
            rows.append({"device": d.name, "precision": prec,
                         "per_op_bound_ms": network_bound_s(triples, c) * 1e3,
                         "fused_ideal_ms": fused_ideal_s(triples, io_weight_elems * size, c) * 1e3})
    return rows


def network_device_bounds(onnx_path: str | Path, devices: tuple[Device, ...] = DEVICES) -> list[dict[str, Any]]:
    """`device_bounds` of a float graph (an `edgeseg export` FP32 ONNX): its ops' FLOPs and element counts."""
    from edgeseg.profile.costs import graph_costs

    cost = graph_costs(onnx_path)
    ops = [{"flops": o.flops, "elems": o.elems_in + o.elems_weights + o.elems_out, "op_type": o.op_type}
           for o in cost.ops]
    return device_bounds(ops, (cost.input_bytes + cost.output_bytes + cost.weight_bytes) / 4, devices)


def device_table_markdown(devices: tuple[Device, ...] = DEVICES) -> str:
    lines = ["| device | compute | FP16 dense | INT8 dense | memory bandwidth |", "|---|---|---:|---:|---:|"]
    for d in devices:
        cell = [f"{f.value:g} {f.unit}" for f in (d.fp16, d.int8, d.bandwidth)]
        lines.append(f"| {d.name} | {d.compute_unit} | " + " | ".join(cell) + " |")
    lines += ["", "Sources, per figure:", ""]
    for d in devices:
        for what, f in (("FP16", d.fp16), ("INT8", d.int8), ("bandwidth", d.bandwidth)):
            lines.append(f"- {d.name} {what} {f.value:g} {f.unit}: {f.source}" + (f" ({f.derivation})"
                                                                                  if f.derivation else ""))
    return "\n".join(lines)


def device_bounds_context(model: str, path: str | Path = RESULTS) -> str | None:
    """One line for the claims report beside a mobile/edge claim: `model`'s best-case latency per device from
    the committed device-bounds.json, labelled as bounds. None when that network was not bounded."""
    p = Path(path)
    if not p.is_file():
        return None
    doc = json.loads(p.read_text())
    net = doc.get("networks", {}).get(model)
    if not net:
        return None
    parts = []
    for dev in dict.fromkeys(r["device"] for r in net["bounds"]):
        b = {r["precision"]: r["per_op_bound_ms"] for r in net["bounds"] if r["device"] == dev}
        parts.append(f"{dev} >= {b['fp16']:.2f} ms FP16 / {b['int8']:.2f} ms INT8")
    return (f"Bound, not a measurement: no runtime can run {model} ({net['size']}, batch 1) faster than "
            + "; ".join(parts) + " (spec-sheet ceilings, per-op roofline; benchmarks/results/profile/"
            "device-bounds.md)")
