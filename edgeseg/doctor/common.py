"""What every doctor stage shares: the stage list with time limits, the context a stage writes into, and the
comparison of a GPU output with its ONNX Runtime reference (the tolerances the CPU tests use)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgeseg.artifacts import write_json_atomic


@dataclass(frozen=True)
class Stage:
    name: str
    title: str
    limit_s: int


# Sum 400 s, inside the default --budget-s 420 (about 7 minutes of a 10-minute command, with the start-up).
STAGES = (
    Stage("env", "Environment: driver, CUDA, GPU, library versions", 30),
    Stage("torch", "PyTorch CUDA FP32/FP16 vs ONNX Runtime CPU FP32, CUDA events and a CUDA graph", 80),
    Stage("tensorrt", "TensorRT FP16/INT8 (Q/DQ) engines via TensorRTRunner vs ONNX Runtime, CUDA graphs, NVML", 180),
    Stage("rtx", "TensorRT-RTX: AOT engines JIT-finished here, runtime cache round trip", 100),
    Stage("ratios", "Ratios vs U-Net in the bench schema (edgeseg claims evidence)", 10),
)
STAGE_NAMES = tuple(s.name for s in STAGES)

# (relative tolerance on max |got - ref| / max(1, max |ref|), sigmoid > 0.5 mask agreement): as tests/test_trt_runner.
TOLERANCES = {"fp32": (1e-2, 0.995), "fp16": (5e-2, 0.98), "int8": (0.15, 0.95)}
ITERS, WARMUP = 50, 10


class StageSkipped(Exception):
    """Raised by a stage that cannot run here (missing library, unsupported GPU): recorded as skipped."""


@dataclass
class StageContext:
    """Where a stage (in its worker process) records its items; each record rewrites the partial JSON, so a
    stage killed at its time limit still leaves what it measured."""

    name: str
    bundle: Path
    out: Path          # RUN/stages/NAME.json
    work: Path         # engines, caches, references: big, never part of the report
    deadline: float
    items: list[dict[str, Any]] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def record(self, item: dict[str, Any]) -> dict[str, Any]:
        self.items.append(item)
        self.flush()
        return item

    def flush(self) -> None:
        write_json_atomic(self.out, {"stage": self.name, "items": self.items, "info": self.info})

    def attempt(self, what: dict[str, Any], fn: Callable[[dict[str, Any]], None], need_s: float = 5.0) -> None:
        """Run one check: its failure is recorded with a one-line reason and the stage goes on."""
        item = dict(what)
        if self.left() < need_s:
            item.update(status="skipped", reason=f"stage time limit reached ({need_s:.0f} s needed)")
            self.record(item)
            return
        t0 = time.monotonic()
        try:
            fn(item)
            item.setdefault("status", "pass")
        except StageSkipped as e:
            item.update(status="skipped", reason=str(e)[:300])
        except Exception as e:  # noqa: BLE001 - the doctor records every failure and goes on
            item.update(status="fail", reason=one_line(e))
        item["seconds"] = round(time.monotonic() - t0, 2)
        self.record(item)


def one_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    msg = text[0] if text else ""
    return f"{type(e).__name__}: {msg}"[:300] if not msg.startswith(type(e).__name__) else msg[:300]


def compare(got: np.ndarray, ref: np.ndarray, precision: str) -> dict[str, Any]:
    """max error and mask agreement vs the reference, against the precision's tolerance; adds status."""
    tol, agree_min = TOLERANCES[precision]
    got = np.asarray(got, np.float32)
    ref = np.asarray(ref, np.float32)
    if got.shape != ref.shape:
        return {"status": "fail", "reason": f"output shape {got.shape}, reference {ref.shape}"}
    scale = max(1.0, float(np.abs(ref).max()))
    err = float(np.abs(got - ref).max()) if np.isfinite(got).all() else float("inf")
    agree = float(((got > 0) == (ref > 0)).mean())
    out: dict[str, Any] = {"max_abs_err": err if np.isfinite(err) else None, "tol": tol * scale,
                           "mask_agree": agree, "mask_agree_min": agree_min}
    if not np.isfinite(err):
        out.update(status="fail", reason="non-finite outputs")
    elif err > tol * scale or agree < agree_min:
        out.update(status="fail", reason=f"max |out - ref| {err:.4g} (tolerance {tol * scale:.4g}), mask "
                                         f"agreement {agree:.4f} (min {agree_min}) vs ONNX Runtime")
    return out


def dice_scores(logits: np.ndarray, ref_logits: np.ndarray, masks: np.ndarray) -> dict[str, float]:
    """Pooled Dice of the masks (sigmoid > 0.5, one class) vs the generated ground truth, for output and
    reference, and between the two (how far the GPU's masks are from ONNX Runtime's)."""
    from edgeseg.metrics import dice, labels_from_logits

    pred, ref = labels_from_logits(logits), labels_from_logits(ref_logits)
    return {"dice": float(dice(pred, masks)), "dice_ref": float(dice(ref, masks)),
            "dice_vs_ref": float(dice(pred, ref))}


def stats(ms: list[float]) -> dict[str, float]:
    from edgeseg.bench.timing import latency_stats

    return {k: round(v, 4) for k, v in latency_stats(ms).items()}
