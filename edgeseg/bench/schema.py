"""The bench results file, "edgeseg-bench/1", and a small hand-written validator (no jsonschema needed).

    {"schema": "edgeseg-bench/1", "created": ISO-8601, "command": str, "env": {...},
     "results": [{"model", "backend", "precision", "device", "threads", "batch", "input_shape",
                  "latency_ms": {"min","mean","p50","p90","p99","max"}, "throughput_ips", "peak_mem_mb",
                  "size_mb", "params", "dice", "iou", "energy_mj_per_image", "artifact", "notes"}, ...]}

Every key is present; null where not measured. Extra keys are allowed (e.g. "latency_compute_ms" on a
GPU, "peak_mem_method", "power_source"), so readers must ignore keys they do not know. One extra key is read
back: "timing": TIMING_INTERLEAVED marks a row timed in one process with the other networks in rotated rounds
(edgeseg.bench.matrix_interleaved); the claims let such rows decide over sequentially timed ones.
"""

from __future__ import annotations

import math
from typing import Any

from edgeseg.errors import EdgesegError
from edgeseg.names import BACKENDS, DEVICES, PRECISIONS

SCHEMA = "edgeseg-bench/1"
TIMING_INTERLEAVED = "interleaved"
LATENCY_KEYS = ("min", "mean", "p50", "p90", "p99", "max")
ENV_KEYS = ("cpu", "cores", "threads", "gpu", "versions")
RESULT_KEYS = ("model", "backend", "precision", "device", "threads", "batch", "input_shape", "latency_ms",
               "throughput_ips", "peak_mem_mb", "size_mb", "params", "dice", "iou", "energy_mj_per_image",
               "artifact", "notes")
# key -> (types allowed, nullable)
_NUM = (int, float)
_TYPES: dict[str, tuple[tuple[type, ...], bool]] = {
    "model": ((str,), False), "backend": ((str,), False), "precision": ((str,), False),
    "device": ((str,), False), "threads": ((int,), True), "batch": ((int,), False),
    "input_shape": ((list,), False), "latency_ms": ((dict,), True), "throughput_ips": (_NUM, True),
    "peak_mem_mb": (_NUM, True), "size_mb": (_NUM, True), "params": ((int,), True), "dice": (_NUM, True),
    "iou": (_NUM, True), "energy_mj_per_image": (_NUM, True), "artifact": ((str,), True),
    "notes": ((str, list), True),
}


def validate(doc: Any) -> list[str]:
    """Return a list of problems (empty = valid)."""
    errs: list[str] = []
    if not isinstance(doc, dict):
        return ["top level must be an object"]
    if doc.get("schema") != SCHEMA:
        errs.append(f"schema must be {SCHEMA!r}, got {doc.get('schema')!r}")
    for k in ("created", "command"):
        if not isinstance(doc.get(k), str):
            errs.append(f"{k!r} must be a string")
    env = doc.get("env")
    if not isinstance(env, dict):
        errs.append("'env' must be an object")
    else:
        errs += [f"env: missing {k!r}" for k in ENV_KEYS if k not in env]
    results = doc.get("results")
    if not isinstance(results, list):
        return errs + ["'results' must be a list"]
    for i, r in enumerate(results):
        errs += [f"results[{i}]: {e}" for e in _validate_result(r)]
    return errs


def _validate_result(r: Any) -> list[str]:
    if not isinstance(r, dict):
        return ["must be an object"]
    errs = [f"missing {k!r}" for k in RESULT_KEYS if k not in r]
    for k, (types, nullable) in _TYPES.items():
        if k not in r:
            continue
        v = r[k]
        if v is None:
            if not nullable:
                errs.append(f"{k!r} must not be null")
        elif isinstance(v, bool) or not isinstance(v, types):
            errs.append(f"{k!r} has type {type(v).__name__}")
        elif isinstance(v, float) and not math.isfinite(v):
            errs.append(f"{k!r} must be finite, got {v}")
    for k, allowed in (("backend", BACKENDS), ("precision", PRECISIONS), ("device", DEVICES)):
        if isinstance(r.get(k), str) and r[k] not in allowed:
            errs.append(f"{k!r} must be one of {allowed}, got {r[k]!r}")
    shape = r.get("input_shape")
    if isinstance(shape, list) and (len(shape) != 4 or not all(isinstance(d, int) and d > 0 for d in shape)):
        errs.append(f"'input_shape' must be [N,C,H,W] positive ints, got {shape}")
    lat = r.get("latency_ms")
    if isinstance(lat, dict):
        miss = [k for k in LATENCY_KEYS if not isinstance(lat.get(k), _NUM)]
        if miss:
            errs.append(f"latency_ms: missing/non-numeric {miss}")
        elif not lat["min"] <= lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["max"]:
            errs.append("latency_ms: not ordered min <= p50 <= p90 <= p99 <= max")
    for k in ("dice", "iou"):
        v = r.get(k)
        if isinstance(v, _NUM) and not 0.0 <= v <= 1.0:
            errs.append(f"{k!r} must be in [0, 1], got {v}")
    return errs


def check(doc: Any, where: str = "bench results") -> None:
    """Raise EdgesegError naming the first problems if `doc` is not a valid edgeseg-bench/1 document."""
    errs = validate(doc)
    if errs:
        more = f" (+{len(errs) - 3} more)" if len(errs) > 3 else ""
        raise EdgesegError(f"{where}: not a valid {SCHEMA} file: {'; '.join(errs[:3])}{more}; "
                           f"regenerate it with edgeseg bench --json")
