"""`edgeseg optimize`: the fastest artifact this machine runs within a Dice budget.

Candidates (each exported/quantized through edgeseg's own cached steps): for every graph variant (`rewrites`,
default "none" = the plain export and "default" = edgeseg.rewrites) and batch: FP32, FP16, INT8 in both Q/DQ
layouts ("int8" = TensorRT's Q/DQ on Conv inputs, "int8-io" = inputs and outputs, fused by ORT) and the
latency-aware "mixed-int8" (edgeseg.mixed_int8); each at every thread count. On a Jetson, TensorRT engines
join: an engine of each plain FP32/FP16/INT8 graph (`_tensorrt_candidates`, built by edgeseg.engine), where a TensorRT
runtime and an NVIDIA GPU are present; elsewhere the result says plainly why there are none.

Conventions:
* Dice is measured on the VALIDATION split only (the checkpoint's, or --split-file), never test, per image
  (`edgeseg eval`'s path: tiled for networks trained on native-scale crops); the drop of a candidate is
  FP32(plain export, batch 1) minus candidate, in percentage points. A batch-N graph is the batch-1 graph
  with another batch dimension: it carries its batch-1 sibling's Dice (said in its notes).
* Within budget: the one rule behind --max-dice-drop, the same as `edgeseg quantize`'s (`edgeseg.dice_budget`:
  the upper bound of the 95 % paired image-bootstrap interval of the drop over every validation image).
* Latency: all candidates timed in one process in interleaved rounds (edgeseg.bench.timing), per image
  (p50 and p99 / batch). The selected artifact is the lowest per-image p50 within budget. An INT8 artifact
  slower than FP32 at the same threads and batch is never selected silently: the result says so.
* No candidate within budget: the table is still written (it is complete), then one line, exit 2.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from edgeseg.errors import EdgesegError
from edgeseg.names import INT8_LIKE, MIXED_INT8, PRECISIONS

REFERENCE = "fp32"  # the plain export (rewrites "none"), batch 1: the Dice reference


@dataclass
class Candidate:
    label: str
    precision: str
    rewrites: str
    batch: int
    path: str
    backend: str = "onnxruntime"
    notes: list[str] = field(default_factory=list)


def _log(msg: str) -> None:
    print(f"edgeseg optimize: {msg}", file=sys.stderr, flush=True)


def _label(precision: str, rewrites: str, batch: int) -> str:
    return f"{precision}{'' if rewrites == 'none' else f'+rw:{rewrites}'} b{batch}"


def build_candidates(source: str, size: tuple[int, int] | None, batches: Sequence[int], precisions: Sequence[str],
                     variants: Sequence[str], calib: Path | None, layer_threads: int = 2,
                     layer_rounds: int = 5) -> tuple[list[Candidate], list[dict[str, str]]]:
    """Export / quantize every candidate (`edgeseg.recipe.materialize`, cached by content).
    -> (candidates, skipped [{"label", "reason"}])."""
    from edgeseg.artifacts import read_sidecar
    from edgeseg.mixed_int8 import measure_layers
    from edgeseg.recipe import NothingToMake, Recipe, materialize

    bad = [p for p in precisions if p not in PRECISIONS]
    if bad:
        raise EdgesegError(f"--precisions: unknown {', '.join(bad)}; choose from {', '.join(PRECISIONS)}")
    cands: list[Candidate] = []
    skipped: list[dict[str, str]] = []
    for rw in variants:
        rows = None  # per-layer INT8/FP32 timings, measured once per variant on its batch-1 graph
        for b in batches:
            fp32 = materialize(Recipe(source, "fp32", size, b, rw)).onnx
            if rw != "none" and not (read_sidecar(fp32) or {}).get("rewrites"):
                skipped.append({"label": _label("*", rw, b), "reason": "no rewrite applies to this network "
                                                                         "(same graph as 'none')"})
                continue

            def add(prec: str, path: Path | None, notes: list[str] | None = None, rw: str = rw, b: int = b) -> None:
                if path is not None:
                    cands.append(Candidate(_label(prec, rw, b), prec, rw, b, str(path), notes=notes or []))

            if "fp32" in precisions or (rw == "none" and b == 1):  # the Dice reference is always measured
                add("fp32", fp32, [] if "fp32" in precisions else ["reference only (fp32 not in --precisions)"])
            if "fp16" in precisions:
                add("fp16", materialize(Recipe(fp32, "fp16")).onnx)
            if calib is None and any(p in INT8_LIKE for p in precisions):
                skipped += [{"label": _label(p, rw, b), "reason": "no calibration data"} for p in INT8_LIKE
                            if p in precisions]
                continue
            if "int8" in precisions:
                add("int8", materialize(Recipe(fp32, "int8", calib=str(calib))).onnx,
                    ["Q/DQ on Conv inputs (the TensorRT graph)"])
            if "int8-io" in precisions:
                add("int8-io", materialize(Recipe(fp32, "int8-io", calib=str(calib))).onnx)
            if MIXED_INT8 in precisions:
                if rows is None:
                    one = fp32 if b == 1 else materialize(Recipe(source, "fp32", size, 1, rw)).onnx
                    _log(f"timing every Conv in FP32 and INT8 ({rw}, {layer_threads} threads)")
                    rows = measure_layers(one, threads=layer_threads, rounds=layer_rounds)
                try:
                    add(MIXED_INT8, materialize(Recipe(fp32, MIXED_INT8, calib=str(calib), layers=rows)).onnx,
                        [f"layer decisions from batch-1 one-layer timings, {layer_threads} threads"])
                except NothingToMake:
                    skipped.append({"label": _label(MIXED_INT8, rw, b),
                                    "reason": "no Conv faster in INT8 than FP32 here (the mixed graph is FP32)"})
    return cands, skipped


ENGINE_PRECISIONS = ("fp32", "fp16", "int8")  # graphs a strongly typed engine build takes as they are


def tensorrt_unavailable() -> str | None:
    """Why TensorRT engines cannot be candidates here (None when a runtime and an NVIDIA GPU are present)."""
    from edgeseg.bench.machine import has_nvidia_gpu
    from edgeseg.trt_compat import resolve_flavour

    try:
        flavour = resolve_flavour("auto")
    except EdgesegError as e:
        return f"no TensorRT runtime installed ({e})"
    if not has_nvidia_gpu():
        return f"{flavour} is installed but there is no NVIDIA GPU here to run an engine on"
    return None


def _tensorrt_candidates(cands: Sequence[Candidate]) -> tuple[list[Candidate], list[dict[str, str]]]:
    """An engine per plain-export ONNX candidate (FP32, FP16, INT8 Q/DQ; the graph's precision, strongly typed),
    built by edgeseg.engine where a TensorRT runtime and an NVIDIA GPU are present; else the reason, plainly."""
    why = tensorrt_unavailable()
    if why is not None:
        return [], [{"label": "tensorrt *", "reason": f"TensorRT engines are not candidates: {why}"}]
    from edgeseg.engine import build_engine_info

    out: list[Candidate] = []
    skipped: list[dict[str, str]] = []
    for c in cands:
        if c.rewrites != "none" or c.precision not in ENGINE_PRECISIONS or c.backend != "onnxruntime":
            continue
        label = f"trt-{c.precision} b{c.batch}"
        try:
            res = build_engine_info(c.path, batch=c.batch)
        except EdgesegError as e:
            skipped.append({"label": label, "reason": f"engine build failed: {e}"})
            continue
        out.append(Candidate(label, c.precision, c.rewrites, c.batch, str(res.path), backend="tensorrt",
                             notes=[f"{res.meta.get('flavour', 'tensorrt')} engine of {c.label}"]))
    return out, skipped


def dice_rows(path: str, data: str, split_file: str | None, threads: int) -> dict[str, float]:
    """{image stem: Dice} on the validation split (never test)."""
    from edgeseg.evaluate import evaluate_artifact

    res = evaluate_artifact(path, data, split="val", split_file=split_file, threads=threads)
    return {str(r["image"]): float(r["dice"]) for r in res["per_image"]}


def score(cands: Sequence[Candidate], data: str, split_file: str | None, threads: int) -> dict[str, dict[str, Any]]:
    """Per candidate label: {"dice", "drop_pp": {"mean","low","high",...}, "n"} vs the plain FP32 batch 1."""
    from edgeseg.dice_budget import dice_drop

    ref = next((c for c in cands if c.precision == REFERENCE and c.rewrites == "none" and c.batch == 1), None)
    if ref is None:
        raise EdgesegError("optimize needs the plain FP32 batch-1 graph as the Dice reference: keep 'none' in "
                           "--rewrites and 1 in --batches")
    base = dice_rows(ref.path, data, split_file, threads)
    out: dict[str, dict[str, Any]] = {}
    by_graph: dict[tuple[str, str], dict[str, Any]] = {}
    for c in sorted(cands, key=lambda c: c.batch):
        key = (c.precision, c.rewrites, c.backend)  # an engine is scored itself, not by its ONNX
        if key not in by_graph:
            rows = base if c is ref else dice_rows(c.path, data, split_file, threads)
            by_graph[key] = {"dice": sum(rows.values()) / len(rows), "drop_pp": dice_drop(base, rows),
                             "n": len(rows), "from_batch": c.batch}
        out[c.label] = by_graph[key]
        if by_graph[key]["from_batch"] != c.batch:
            c.notes.append(f"Dice of its batch-{by_graph[key]['from_batch']} sibling (same graph)")
    return out


def time_all(cands: Sequence[Candidate], threads: Sequence[int], rounds: int, iters: int, warmup: int,
             size: tuple[int, int], channels: int) -> dict[tuple[str, int], dict[str, Any]]:
    """{(label, threads): interleaved timing} with every candidate x thread count open at once."""
    from contextlib import ExitStack

    from edgeseg.bench.timing import time_interleaved
    from edgeseg.runtime.ort_runner import OnnxRuntimeRunner

    with ExitStack() as stack:
        runners, shapes = {}, {}
        for c in cands:
            for t in threads:  # an engine runs on the GPU: its rows per thread count time the same engine
                name = f"{c.label} t{t}"
                if c.backend == "tensorrt":
                    from edgeseg.runtime.trt_runner import TensorRTRunner

                    runners[name] = stack.enter_context(TensorRTRunner(c.path))
                else:
                    runners[name] = stack.enter_context(OnnxRuntimeRunner(c.path, threads=t))
                shapes[name] = (c.batch, channels, *size)
        res = time_interleaved(runners, shapes, rounds=rounds, iters=iters, warmup=warmup)
    return {(c.label, t): res[f"{c.label} t{t}"] for c in cands for t in threads}


def select(rows: list[dict[str, Any]], max_drop: float) -> dict[str, Any] | None:
    """Mark within_budget / pareto on `rows` (in place); return the fastest row within budget, or None.

    A row: {"label", "precision", "threads", "batch", "p50_ms", "drop_pp": {"high", ...}} (p50 per image)."""
    from edgeseg.bench.results import pareto_front
    from edgeseg.dice_budget import within_budget

    for r in rows:
        r["within_budget"] = within_budget(r["drop_pp"], max_drop)
    front = pareto_front([(r["p50_ms"], -r["drop_pp"]["mean"]) for r in rows])
    for i, r in enumerate(rows):
        r["pareto"] = i in front
    ok = [r for r in rows if r["within_budget"] and not r.get("reference_only")]
    best = min(ok, key=lambda r: (r["p50_ms"], r["drop_pp"]["mean"], r["label"])) if ok else None
    for r in rows:
        r["selected"] = r is best
    if best is not None and best["precision"] in INT8_LIKE:
        fp32 = [r for r in rows if r["precision"] == "fp32" and r["threads"] == best["threads"]
                and r["batch"] == best["batch"]]
        if fp32 and min(r["p50_ms"] for r in fp32) < best["p50_ms"]:
            best.setdefault("notes", []).append("SLOWER than FP32 at the same threads and batch")
        elif not fp32:
            best.setdefault("notes", []).append("no FP32 candidate at these threads/batch to compare with")
    return best


def _source_info(source: str, split_file: str | None) -> tuple[tuple[int, int] | None, int, str | None]:
    """(size, channels, checkpoint path or None); refuses a registry name without a validation split."""
    from edgeseg.models import get_model_info
    from edgeseg.source import resolve_source

    p = Path(source)
    if resolve_source(source, allow=("registry", "checkpoint")).kind == "checkpoint":
        from edgeseg.checkpoint import read_checkpoint

        payload = read_checkpoint(p)
        pre = payload.get("preprocess") or {}
        if not (payload.get("split") or {}).get("val") and split_file is None:
            raise EdgesegError(f"{p}: the checkpoint records no validation split; pass --split-file RUN/split.json "
                               f"(optimize scores on the validation split, never test)")
        size = (int(pre["height"]), int(pre["width"])) if pre else None
        return size, int(payload["model"]["in_channels"]), str(p)
    info = get_model_info(source)  # unknown name: one line listing the valid names
    if split_file is None:
        raise EdgesegError(f"{source}: a bare network name has random weights and no validation split; pass a "
                           f"trained checkpoint (best.pt) or --split-file")
    return None, int(info.reference_input[0]), None


def optimize(source: str, data: str, out_dir: str | Path, *, max_dice_drop: float = 0.5,
             precisions: Sequence[str] = PRECISIONS, variants: Sequence[str] = ("none", "default"),
             batches: Sequence[int] = (1, 4), threads: Sequence[int] = (1, 2), rounds: int = 5, iters: int = 20,
             warmup: int = 5, split_file: str | None = None, calib: str | None = None, layer_rounds: int = 5,
             plot: bool = True) -> dict[str, Any]:
    """Build, score and time every candidate; write optimize.json / optimize.md / optimize.png to `out_dir`.

    Returns the document; raises EdgesegError (one line) after writing it when no candidate fits the budget."""
    from edgeseg.bench.machine import capture_env
    from edgeseg.bench.optimize_report import write_report
    from edgeseg.dice_budget import RULE, check_max_drop

    check_max_drop(max_dice_drop)
    if not Path(data).is_dir():
        raise EdgesegError(f"{data}: no such data directory; pass --data DIR (images/ + masks/)")
    if any(b < 1 for b in batches) or any(t < 1 for t in threads):
        raise EdgesegError(f"--batches and --threads must be >= 1 (got {list(batches)}, {list(threads)})")
    size, channels, ckpt = _source_info(source, split_file)
    calib_path = None
    if any(p in INT8_LIKE for p in precisions):
        if calib is not None:
            from edgeseg.calib import resolve_manifest_path

            calib_path = resolve_manifest_path(calib)
        else:
            from edgeseg.bench.matrix import auto_calib
            from edgeseg.models import get_model_info

            s = size or tuple(get_model_info(source).reference_input[1:])
            n = 16
            if ckpt is not None:
                from edgeseg.checkpoint import read_checkpoint

                n = min(n, len((read_checkpoint(ckpt).get("split") or {}).get("train") or []) or n)
            calib_path, _ = auto_calib(data, s, channels, ckpt, n=n)  # the checkpoint's TRAINING split only
    _log(f"building candidates of {source}")
    cands, skipped = build_candidates(source, size, batches, precisions, variants, calib_path,
                                      layer_threads=max(threads), layer_rounds=layer_rounds)
    t_cands, t_skipped = _tensorrt_candidates(cands)
    cands += t_cands
    skipped += t_skipped
    _log(f"Dice of {len({(c.precision, c.rewrites) for c in cands})} graphs on the validation split")
    dice = score(cands, data, split_file, max(threads))
    from edgeseg.graph import onnx_input

    hw = tuple(int(d) for d in onnx_input(cands[0].path)[1][2:])
    _log(f"timing {len(cands) * len(threads)} configurations, {rounds} interleaved rounds x {iters} iterations")
    times = time_all(cands, threads, rounds, iters, warmup, hw, channels)
    rows = []
    for c in cands:
        for t in threads:
            tm = times[(c.label, t)]
            rows.append({**asdict(c), "threads": t, "p50_ms": tm["per_image_ms"]["p50"],
                         "p99_ms": tm["per_image_ms"]["p99"], "latency_ms": tm["latency_ms"],
                         "round_p50_ms": tm["round_p50_ms"], "iters": tm["iters"], **dice[c.label],
                         "reference_only": c.precision not in precisions})
    best = select(rows, max_dice_drop)
    doc = {"schema": "edgeseg-optimize/1", "source": source, "data": data, "split": "val",
           "split_file": split_file, "max_dice_drop_pp": max_dice_drop, "budget_rule": RULE,
           "size": list(hw), "threads": list(threads), "batches": list(batches), "rounds": rounds, "iters": iters,
           "calib": str(calib_path) if calib_path else None, "rows": rows, "skipped": skipped,
           "selected": None if best is None else {k: best[k] for k in ("label", "precision", "rewrites", "batch",
                                                                        "threads", "path", "p50_ms", "drop_pp")},
           "env": capture_env(list(threads))}
    write_report(doc, Path(out_dir), plot=plot)
    if best is None:
        raise EdgesegError(f"no candidate of {source} is within --max-dice-drop {max_dice_drop} pp on the validation "
                           f"split (table in {Path(out_dir) / 'optimize.md'}); raise the budget or add fp32 to "
                           f"--precisions")
    return doc
