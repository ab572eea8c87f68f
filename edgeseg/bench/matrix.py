"""`run_matrix`: every model x backend x precision x threads x batch this machine can run, one results doc.

Artifacts are made (or reused by content hash) by the one recipe (`edgeseg.recipe.materialize`): export ->
FP16 / INT8 (calibration: `calib`, else made from `data`, else from generated data, and the INT8 rows say
so) -> an engine on a GPU with TensorRT. ONNX Runtime gets INT8 in both Q/DQ
layouts: precision "int8" is the TensorRT graph (Q/DQ on Conv inputs, `qdq="conv-inputs"`), "int8-io" the
ONNX Runtime CPU one (Q/DQ on Conv inputs and outputs, `qdq="conv-io"`); engines are built from "int8" only.
A row whose backend is absent here (no GPU, no TensorRT) is listed under "skipped" with the reason. A step or
worker that fails (export, quantization, engine build, a crashed or timed-out benchmark worker) is listed under
"failed" with the reason; the rest of the matrix still runs, and `edgeseg bench` then exits non-zero.
"""

from __future__ import annotations

import datetime as _dt
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from edgeseg.bench.harness import make_config, run_config, run_config_isolated
from edgeseg.bench.machine import capture_env, has_nvidia_gpu
from edgeseg.bench.schema import SCHEMA
from edgeseg.errors import EdgesegError, MissingDependencyError
from edgeseg.names import ENGINE_PRECISIONS, MIXED_INT8, PRECISIONS, QDQ_LAYOUT

ModelSpec = str | dict[str, Any]  # registry name, checkpoint path, or {"name", "model", "options"}
MATRIX_PRECISIONS = tuple(p for p in PRECISIONS if p != MIXED_INT8)  # mixed-int8 is made by edgeseg optimize


def _log(msg: str) -> None:
    print(f"edgeseg bench: {msg}", file=sys.stderr, flush=True)


def new_doc(command: str, threads: Sequence[int] | None = None) -> dict[str, Any]:
    return {"schema": SCHEMA, "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "command": command, "env": capture_env(list(threads) if threads else None), "results": [],
            "skipped": [], "failed": []}


def resolve_model(spec: ModelSpec, size: tuple[int, int] | None) -> tuple[str, str, int, int]:
    """-> (label, source for export/torch, params, in_channels). A dict spec with options (e.g. UNet# levels)
    or "channels" (the same input for every network) becomes a seeded random-init checkpoint in the cache, keyed
    by the network's recorded config and tensor layout, since export takes a name or a checkpoint."""
    import torch

    from edgeseg.artifacts import cache_key, default_cache_dir
    from edgeseg.models import create_model, get_model_info

    if isinstance(spec, dict):
        label, name, options = spec["name"], spec["model"], dict(spec.get("options") or {})
        channels = spec.get("channels", options.pop("in_channels", None))  # given either way (the demo: options)
        info = get_model_info(name)
        h, w = size or info.reference_input[1:]
        with torch.random.fork_rng():
            torch.manual_seed(0)
            model = create_model(name, in_channels=channels, **options)
        # the recorded config (registry defaults merged) and the tensor layout: a changed default or module
        # structure gives a new checkpoint, never a stale one timed under a fresh parameter count
        key = cache_key({"config": model.edgeseg_config, "size": [h, w],
                         "tensors": [[k, list(v.shape)] for k, v in model.state_dict().items()]})
        path = default_cache_dir() / "bench-models" / f"{label}-{h}x{w}-{key[:12]}.pt"
        if not path.exists():
            from edgeseg.checkpoint import save_checkpoint
            from edgeseg.data.preprocess import Preprocess

            c = model.edgeseg_config["in_channels"]
            save_checkpoint(path, model, preprocess=Preprocess(int(h), int(w), int(c)).to_dict(),
                            extra={"note": "random init (seed 0) for latency benchmarks"})
        return label, str(path), sum(p.numel() for p in model.parameters()), model.edgeseg_config["in_channels"]
    from edgeseg.source import resolve_source

    if resolve_source(spec, allow=("registry", "checkpoint")).kind == "checkpoint":
        from edgeseg.checkpoint import load_checkpoint

        model, _ = load_checkpoint(spec)
        return model.edgeseg_config["name"], str(spec), sum(p.numel() for p in model.parameters()), \
            model.edgeseg_config["in_channels"]
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = create_model(get_model_info(spec).name)
    return spec, spec, sum(p.numel() for p in model.parameters()), model.edgeseg_config["in_channels"]


def auto_calib(data: str | None, size: tuple[int, int], channels: int, checkpoint: str | None,
               n: int = 16) -> tuple[Path, str]:
    """A calibration manifest when none is given: from `data`, else from generated data (said in the note)."""
    from edgeseg.artifacts import cache_key, default_cache_dir
    from edgeseg.calib import make_calib

    key = cache_key({"data": data, "size": list(size), "c": channels, "ckpt": checkpoint, "n": n})
    out = default_cache_dir() / "calib" / f"bench-{key}.json"
    if data is None:
        from edgeseg.data.synth import make_synthetic

        data = str(make_synthetic(default_cache_dir() / f"bench-synth-{max(size)}-c{channels}", n=n,
                                  size=max(size), seed=0, channels=1 if channels == 1 else 3))
        note = f"INT8 calibrated on {n} generated images (edgeseg data synth, seed 0): no --calib/--data given"
    else:
        note = f"INT8 calibrated on {n} images of {data} (auto, no --calib given)"
    if not out.exists():
        from edgeseg.data.dataset import SegFolder

        n = min(n, len(SegFolder(data)))
        make_calib(data, n=n, out=out, size=size, channels=channels, checkpoint=checkpoint
                   if checkpoint and Path(checkpoint).is_file() else None)
    return out, note


def run_matrix(models: Sequence[ModelSpec], backends: Sequence[str] = ("onnxruntime", "pytorch"),
               precisions: Sequence[str] = MATRIX_PRECISIONS, threads: Sequence[int] = (1, 2),
               batch: Sequence[int] = (1,), size: tuple[int, int] | None = None, warmup: int = 10,
               iters: int | None = 50, seconds: float | None = None, data: str | None = None,
               split: str | None = None, calib: str | None = None, isolate: bool = True, power: str = "auto",
               device: str = "auto", command: str = "run_matrix", log: Callable[[str], None] = _log,
               rewrites: str = "default") -> dict[str, Any]:
    """Benchmark the matrix; returns an edgeseg-bench/1 document (plus a "skipped" list with reasons)."""
    import torch

    doc = new_doc(command, threads)
    doc["rewrites"] = rewrites  # the export-time graph rewrites (edgeseg.rewrites) every ONNX row carries
    run = run_config_isolated if isolate else run_config
    # device: "cpu" = CPU rows only, "cuda" = GPU rows only, "auto" = both where this machine has them.
    if device not in ("auto", "cpu", "cuda"):
        raise EdgesegError(f"--device must be cpu or cuda, got {device!r}")
    cpu_rows = device in ("auto", "cpu")
    gpu = device in ("auto", "cuda") and torch.cuda.is_available()  # PyTorch CUDA rows
    trt_gpu = device in ("auto", "cuda") and (gpu or has_nvidia_gpu())
    if device == "cuda" and not (gpu or trt_gpu):
        raise EdgesegError("--device cuda: no NVIDIA GPU visible here; use --device cpu")

    def skip(model: str, backend: str, precision: str, why: str) -> None:
        log(f"skip {model} {backend} {precision}: {why}")
        doc["skipped"].append({"model": model, "backend": backend, "precision": precision, "reason": why})

    def fail(model: str, backend: str, precision: str, why: str) -> None:
        log(f"FAILED {model} {backend} {precision}: {why}")
        doc["failed"].append({"model": model, "backend": backend, "precision": precision, "reason": why})

    def bench(cfg: dict[str, Any], dice_from: dict[str, Any] | None) -> dict[str, Any] | None:
        log(f"{cfg['model']} {cfg['backend']} {cfg['precision']} {cfg['device']} threads={cfg['threads']} "
            f"batch={cfg['batch']}")
        try:
            r = run(cfg)
        except MissingDependencyError as e:
            skip(cfg["model"], cfg["backend"], cfg["precision"], str(e))
            return None
        except EdgesegError as e:  # a crashed, timed-out or failing worker
            fail(cfg["model"], cfg["backend"], cfg["precision"], str(e))
            return None
        if dice_from is not None and dice_from.get("dice") is not None:
            r["dice"], r["iou"] = dice_from["dice"], dice_from["iou"]
            r["notes"] = "; ".join(filter(None, [r["notes"], f"dice/iou measured at threads={dice_from['threads']}"]))
        doc["results"].append(r)
        return r

    for spec in models:
        try:
            label, source, params, channels = resolve_model(spec, size)
        except EdgesegError as e:
            fail(str(spec), "*", "*", str(e))
            continue
        common = dict(model=label, warmup=warmup, iters=iters, seconds=seconds, power=power, split=split,
                      params=params, size=list(size) if size else None)
        for b in batch:
            arts: dict[str, tuple[Path, list[str]]] = {}
            if "onnxruntime" in backends or "tensorrt" in backends:
                arts.update(onnx_artifacts(source, label, precisions, size, b, channels, data, calib, fail,
                                             rewrites))
            if "onnxruntime" in backends and cpu_rows:
                for prec, (path, notes) in arts.items():
                    first = None
                    for t in threads:
                        want_dice = data is not None and first is None and b == min(batch)
                        r = bench(make_config(backend="onnxruntime", artifact=str(path), precision=prec, threads=t,
                                              batch=b, data=data if want_dice else None, notes=notes, **common),
                                  first)
                        first = first or r
            if "pytorch" in backends:
                first = None
                for t in threads if cpu_rows else []:
                    want_dice = data is not None and first is None and b == min(batch)
                    r = bench(make_config(backend="pytorch", artifact=source, precision="fp32", threads=t, batch=b,
                                          data=data if want_dice else None, **common), first)
                    first = first or r
                if gpu:
                    for prec in [p for p in precisions if p in ("fp32", "fp16")]:
                        bench(make_config(backend="pytorch", artifact=source, precision=prec, device="cuda",
                                          batch=b, data=data, **common), None)
                if "fp16" in precisions and not gpu and not any(x["backend"] == "pytorch" and x["precision"] == "fp16"
                                                                for x in doc["skipped"]):
                    skip("*", "pytorch", "fp16", "PyTorch FP16 needs a CUDA GPU; none here (all models)")
            if "tensorrt" in backends:
                if not trt_gpu:
                    if not any(x["backend"] == "tensorrt" for x in doc["skipped"]):
                        skip("*", "tensorrt", "*", "no CUDA GPU here: engines are benchmarked on the GPU they "
                                                   "target (edgeseg bench --engine there)")
                    continue
                for prec in [p for p in precisions if p in ENGINE_PRECISIONS]:
                    eng = _engine(source, prec, size, b, arts, skip, fail, label)
                    if eng is not None:
                        bench(make_config(backend=eng[1], artifact=str(eng[0]), precision=prec, device="cuda",
                                          batch=b, data=data, **common), None)
    return doc


def onnx_artifacts(source: str, label: str, precisions: Sequence[str], size: tuple[int, int] | None, b: int,
                    channels: int, data: str | None, calib: str | None, fail: Callable[..., None],
                    rewrites: str = "default") -> dict[str, tuple[Path, list[str]]]:
    """{precision: (ONNX, notes)} of one network at batch `b`, each made by `materialize` from the FP32 export."""
    from edgeseg.recipe import Recipe, materialize

    out: dict[str, tuple[Path, list[str]]] = {}
    try:
        fp32 = materialize(Recipe(source, "fp32", size, b, rewrites)).onnx
    except Exception as e:  # noqa: BLE001 - one failed export must not sink the matrix
        fail(label, "onnxruntime", "*", f"export failed: {str(e).splitlines()[0] if str(e) else type(e).__name__}")
        return out
    if "fp32" in precisions:
        out["fp32"] = (fp32, [])
    if "fp16" in precisions:
        try:
            out["fp16"] = (materialize(Recipe(fp32, "fp16")).onnx, [])
        except Exception as e:  # noqa: BLE001
            fail(label, "onnxruntime", "fp16", f"FP16 conversion failed: {str(e).splitlines()[0][:200]}")
    manifest: Any = None
    for prec in [p for p in ("int8", "int8-io") if p in precisions]:
        try:
            from edgeseg.bench.config import onnx_input_dims

            notes: list[str] = []
            if calib is None:
                dims = onnx_input_dims(fp32)
                manifest, note = auto_calib(data, (int(dims[2]), int(dims[3])), channels, source)
                notes.append(note)
                if prec == "int8" or "int8" not in precisions:
                    _log(f"{label}: {note}")
            else:
                manifest = calib
            notes.append(f"Q/DQ layout {QDQ_LAYOUT[prec]}")
            out[prec] = (materialize(Recipe(fp32, prec, calib=manifest)).onnx, notes)
        except Exception as e:  # noqa: BLE001
            fail(label, "onnxruntime", prec, f"INT8 quantization failed: {str(e).splitlines()[0][:200]}")
    return out


def _engine(source: str, prec: str, size: tuple[int, int] | None, b: int, arts: dict[str, tuple[Path, list[str]]],
            skip: Callable[..., None], fail: Callable[..., None], label: str) -> tuple[Path, str] | None:
    """The engine of the matrix's own graph of this precision (from the source when that graph failed)."""
    try:
        from edgeseg.recipe import EngineSpec, Recipe, materialize

        recipe = Recipe(str(arts[prec][0]), None, size, b) if prec in arts else Recipe(source, prec, size, b)
        res = materialize(replace(recipe, engine=EngineSpec())).engine
        from edgeseg.sidecars import EngineSidecar

        side = EngineSidecar.from_meta(res.meta) if res is not None else None
        if res is None or side is None:
            raise EdgesegError(f"{res and res.path}: its sidecar is not an edgeseg engine sidecar; rebuild it")
        return res.path, side.flavour
    except MissingDependencyError as e:  # no TensorRT here: the backend is absent
        skip(label, "tensorrt", prec, str(e))
        return None
    except Exception as e:  # noqa: BLE001
        fail(label, "tensorrt", prec, f"engine build failed: {str(e).splitlines()[0][:200]}")
        return None
