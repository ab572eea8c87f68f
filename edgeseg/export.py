"""PyTorch -> ONNX: export (torch.export-based or TorchScript exporter), simplify (onnxsim), check against
PyTorch, sidecar.

`export_onnx(source, ...)` is a pure function of its inputs: `source` is a registry name (freshly
initialised weights, seeded, said loudly) or a checkpoint path; the output is reused while the cache key
(source hash/config, size, batch, opset, exporter, library versions) is unchanged.

The exporter (torch.export-based, or TorchScript for a network with a measured reason) is
`edgeseg.onnx_exporter`'s choice; the sidecar records it and why.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from edgeseg.artifacts import build_step, code_identity, default_cache_dir, library_versions, read_sidecar, sha256_file
from edgeseg.errors import EdgesegError
from edgeseg.integrity import verify_recorded
from edgeseg.names import DEFAULT_OPSET, INPUT_NAME, OUTPUT_NAME
from edgeseg.onnx_exporter import exporter_for, to_onnx

# Max |ORT - torch| allowed, relative to the range of the PyTorch logits (issue 4).
CHECK_RTOL = 1e-4
RANDOM_INIT_SEED = 0
DEFAULT_MEAN_STD = (0.5,), (0.5,)


def _resolve_source(source: str | Path) -> tuple[nn.Module, dict[str, Any]]:
    """-> (model in eval mode, description) of a checkpoint or a registry name (edgeseg.source decides)."""
    from edgeseg.models import create_model, get_model_info
    from edgeseg.source import resolve_source

    p = Path(source)
    if resolve_source(source, allow=("registry", "checkpoint")).kind == "checkpoint":
        from edgeseg.checkpoint import load_checkpoint

        model, payload = load_checkpoint(p)
        return model, {"kind": "checkpoint", "path": str(p), "sha256": sha256_file(p), "config": payload["model"],
                       "preprocess": payload.get("preprocess"), "split": payload.get("split"),
                       "weights": "checkpoint", "data": payload.get("data")}
    info = get_model_info(str(source))  # unknown name -> EdgesegError listing valid names
    # Seeded so that a bare-name export is a pure function of its inputs (same bytes on rerun).
    with torch.random.fork_rng():
        torch.manual_seed(RANDOM_INIT_SEED)
        model = create_model(info.name)
    model.eval()
    return model, {"kind": "registry", "name": info.name, "config": model.edgeseg_config, "preprocess": None,
                   "split": None, "weights": "random-init", "seed": RANDOM_INIT_SEED}


def reference_model(source: str | Path) -> nn.Module:
    """The module `export_onnx` checks against: a registry name's seeded random init, or a checkpoint's."""
    return _resolve_source(source)[0]


def planned_rewrites(source: str | Path, rewrites: str | None = "default") -> list[dict[str, Any]]:
    """The rewrites `export_onnx(source, rewrites=...)` applies (its sidecar's "rewrites"); [] = the plain graph."""
    from edgeseg.rewrites import apply_rewrites

    return apply_rewrites(_fold(reference_model(source))[0], rewrites)[1]


def _default_preprocess(model_name: str, channels: int, size: tuple[int, int]) -> dict[str, Any]:
    from edgeseg.data.preprocess import Preprocess

    mean, std = DEFAULT_MEAN_STD
    return Preprocess(size[0], size[1], channels, mean, std).to_dict()


def _fold(model: nn.Module) -> tuple[nn.Module, list[str]]:
    """Fold training-time reparametrisations into plain weights before tracing (SD-UNet's WS)."""
    done: list[str] = []
    fold = getattr(model, "fold_for_export", None)
    if callable(fold):
        r = fold()
        if isinstance(r, nn.Module):
            model = r
        done.append("fold_for_export")
    # BatchNorm: the exporter and onnxsim fold eval-mode Conv+BN into the convs (tested: none is left).
    return model.eval(), done


def _check_inputs(desc: dict[str, Any], shape: tuple[int, int, int, int]) -> tuple[np.ndarray, str]:
    """Real images for the ORT-vs-PyTorch check where we can find some, else seeded random normal."""
    try:
        from edgeseg.data.preprocess import Preprocess

        split = desc.get("split") or {}
        root = desc.get("data") or (split.get("root") if isinstance(split, dict) else None)
        files = split.get("test") or split.get("val") or split.get("train") if isinstance(split, dict) else None
        if root and files and desc.get("preprocess"):
            from edgeseg.data.dataset import read_image

            pre = Preprocess.from_dict(desc["preprocess"])
            imgs = []
            for f in list(files)[: shape[0]]:
                f = f["image"] if isinstance(f, dict) else f
                imgs.append(pre.image(read_image(Path(root) / "images" / f if not Path(f).is_absolute() else f)))
            if len(imgs) == shape[0] and imgs[0].shape == shape[1:]:
                return np.stack(imgs).astype(np.float32), f"checkpoint data ({root})"
    except Exception:  # noqa: BLE001 - any trouble finding data falls back to random, and the sidecar says so
        pass
    try:  # the embedded synthetic data set (edgeseg data synth), preprocessed with the default transform
        from edgeseg.data.preprocess import Preprocess
        from edgeseg.data.synth import synth_sample

        pre = Preprocess.from_dict(desc["preprocess"]) if desc.get("preprocess") else Preprocess(
            shape[2], shape[3], shape[1], *DEFAULT_MEAN_STD)
        rng = np.random.default_rng(0)
        imgs = [pre.image(synth_sample(max(shape[2], shape[3]), rng, 3 if shape[1] == 3 else 1)[0])
                for _ in range(shape[0])]
        if imgs[0].shape == shape[1:]:
            return np.stack(imgs).astype(np.float32), "synthetic images (edgeseg.data.synth, seed 0)"
    except Exception:  # noqa: BLE001 - fall back to random normal, and the sidecar says so
        pass
    rng = np.random.default_rng(0)
    return rng.standard_normal(shape).astype(np.float32), "random-normal (no data available)"


def _simplify(path: Path) -> bool:
    import onnx
    import onnxsim

    model = onnx.load(str(path))
    try:
        simp, ok = onnxsim.simplify(model)
    except Exception as e:  # noqa: BLE001 - keep the unsimplified graph, say so
        warnings.warn(f"onnxsim failed ({type(e).__name__}: {e}); keeping the unsimplified graph", stacklevel=2)
        return False
    if ok:
        onnx.save(simp, str(path))
    return bool(ok)


def ort_check(path: Path, model: nn.Module, x: np.ndarray) -> dict[str, Any]:
    """ONNX Runtime (CPU, 2 threads) on `x` against `model`: {"ok", "max_abs_diff", "tolerance", ...}."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    got = sess.run([OUTPUT_NAME], {INPUT_NAME: x})[0]
    with torch.no_grad():
        want = model(torch.from_numpy(x)).numpy()
    if got.shape != want.shape:
        return {"ok": False, "max_abs_diff": None, "output_range": None,
                "reason": f"shape {got.shape} != torch {want.shape}"}
    diff = float(np.max(np.abs(got - want)))
    rng = float(want.max() - want.min())
    # Relative to the output range; floored by the output magnitude so a near-constant output (random init)
    # is not failed for float32 rounding noise.
    tol = CHECK_RTOL * max(rng, float(np.abs(want).max()), 1e-6)
    return {"ok": diff <= tol, "max_abs_diff": diff, "output_range": rng, "tolerance": tol,
            "rtol": CHECK_RTOL, "output_shape": list(want.shape)}


def export_onnx(source: str | Path, out: str | Path | None = None, size: tuple[int, int] | None = None,
                batch: int | str = 1, opset: int = DEFAULT_OPSET, check: bool = True,
                rewrites: str | None = "default", exporter: str | None = None) -> Path:
    """Export a registry model (random init, seeded) or a checkpoint to ONNX; returns the file path.

    `rewrites`: the exact graph rewrites of `edgeseg.rewrites` ("default", "none" or a comma list).
    `exporter`: "dynamo" | "torchscript"; None: the network's measured choice (`exporter_for`)."""
    import onnx

    from edgeseg.rewrites import REWRITES_VERSION, apply_rewrites, parse_rewrites

    model, desc = _resolve_source(source)
    cfg = desc["config"]
    name = cfg["name"]
    from edgeseg.models import check_input_size, get_model_info

    info = get_model_info(name)
    pre = desc["preprocess"]
    if size is None:
        size = (int(pre["height"]), int(pre["width"])) if pre else info.reference_input[1:]
    size = (int(size[0]), int(size[1]))
    check_input_size(name, *size)
    dynamic = batch == "dynamic"
    if not dynamic:
        batch = int(batch)
        if batch < 1:
            raise EdgesegError(f"--batch must be >= 1 or 'dynamic', got {batch}")
    channels = int(cfg["in_channels"])
    exporter, exporter_reason = exporter_for(name, exporter)
    if pre is None:
        pre = _default_preprocess(name, channels, size)
        desc["preprocess_note"] = "default (bare model name: no checkpoint preprocessing)"
    src_id = desc.get("sha256") or {"name": name, "config": cfg, "seed": RANDOM_INIT_SEED}
    step = build_step(
        {"step": "export", "source": src_id, "size": size, "batch": batch, "opset": opset, "check": check,
         "exporter": exporter,
         "versions": library_versions(), "code": code_identity(),
         **({"rewrites": [*parse_rewrites(rewrites), REWRITES_VERSION]} if parse_rewrites(rewrites)[0] else {})},
        out, lambda key: default_cache_dir() / "onnx" / f"{name}-{size[0]}x{size[1]}-b{batch}-op{opset}-{key}.onnx")
    out = step.out
    if desc["weights"] == "random-init":
        print(f"edgeseg: WARNING: exporting {name} with freshly initialised (random, seed {RANDOM_INIT_SEED}) "
              f"weights, not a trained checkpoint", file=sys.stderr)
    if step.reused is not None:
        return out

    import copy

    reference = copy.deepcopy(model)  # the check compares against the unfolded network: folding must be exact
    model, folded = _fold(model)
    model, rewritten = apply_rewrites(model, rewrites)  # exact; the check below compares with `reference`
    n = 2 if dynamic else batch
    x, x_src = _check_inputs(desc, (n, channels, *size))
    with step.writing() as tmp:
        exporter_warnings = to_onnx(model, x, tmp, opset, dynamic, exporter)
        written = next((o.version for o in onnx.load(str(tmp), load_external_data=False).opset_import
                        if o.domain in ("", "ai.onnx")), None)
        if written != opset:  # the dynamo exporter builds at 18 and converts down; it keeps 18 if that fails
            why = next((w for w in exporter_warnings if "Error" in w and "convert" in w.lower()), "")
            why = f": {why.rpartition(' (')[2].rstrip(')')}" if why else ""
            raise EdgesegError(f"{out}: the {exporter} exporter wrote opset {written}, not --opset {opset} (the "
                               f"onnx version converter failed{why}); not written. Pass --opset {written} or "
                               f"another --exporter")
        simplified = _simplify(tmp)
        result = ort_check(tmp, reference, x) if check else {"ok": None, "skipped": True}
        if check and not result["ok"]:
            raise EdgesegError(f"{out}: ONNX Runtime output differs from PyTorch (max |diff| "
                               f"{result['max_abs_diff']}, allowed {result.get('tolerance')}); not written. "
                               f"Try another --opset or report the model")
        graph = onnx.load(str(tmp)).graph
    in_shape = [d.dim_value or d.dim_param for d in graph.input[0].type.tensor_type.shape.dim]
    out_shape = [d.dim_value or d.dim_param for d in graph.output[0].type.tensor_type.shape.dim]
    step.finish("onnx", {
        "precision": "fp32", "weights": desc["weights"], "model": cfg, "preprocess": pre, "split": desc.get("split"),
        "inputs": [{"name": INPUT_NAME, "shape": in_shape, "dtype": "float32"}],
        "outputs": [{"name": OUTPUT_NAME, "shape": out_shape, "dtype": "float32"}],
        "size": list(size), "batch": batch, "opset": opset, "exporter": exporter,
        "exporter_reason": exporter_reason, "exporter_warnings": exporter_warnings,
        "simplified": simplified, "folded": folded + ["batchnorm (exporter/onnxsim)"], "rewrites": rewritten,
        "check": {**result, "inputs": x_src},
    }, source={k: desc.get(k) for k in ("kind", "path", "name", "sha256")})
    return out


def load_onnx_checked(path: str | Path):
    """onnx.load with a one-line error naming the file when it is missing, truncated or corrupt."""
    import onnx

    path = Path(path)
    if not path.is_file():
        raise EdgesegError(f"{path}: no such ONNX file; create it with edgeseg export")
    verify_recorded(path, read_sidecar(path))  # an input with a sidecar must be the file it describes
    try:
        model = onnx.load(str(path))
        onnx.checker.check_model(model)
    except Exception as e:  # noqa: BLE001 - protobuf DecodeError, ValidationError, ...
        msg = str(e).strip().splitlines()[0][:160] if str(e).strip() else type(e).__name__
        raise EdgesegError(f"{path}: not a valid ONNX file ({msg}); re-export it with edgeseg export") from None
    if not model.graph.input or not model.graph.output:
        raise EdgesegError(f"{path}: ONNX graph has no inputs/outputs; re-export it with edgeseg export")
    return model
