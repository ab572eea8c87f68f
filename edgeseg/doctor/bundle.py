"""The doctor's bundle: what the GPU machine needs from the work tree, made by one command, far under 64 MiB.

    edgeseg doctor --make-bundle [--bundle .doctor-bundle]

Per network (the four the claims compare: U-Net, TinyU-Net, U-Lite, SD-UNet, each at its reference input,
batch 1): the FP32 ONNX with seeded weights, its FP16 graph and its Q/DQ INT8 graph (TensorRT placement,
calibrated on the generated set), all three carried as seeded external data (edgeseg.doctor.seeded); a small
generated data set per channel count (the Dice comparisons); the TensorRT-RTX engines of RTX_AOT, built here
on the CPU ahead of time (JIT-finished on the GPU). RTX engines hold kernels for five compute capabilities:
TinyU-Net's FP16 engine is 7.5 MB, its INT8 engine 112 MB (TensorRT-RTX 1.7.1), so only TinyU-Net FP16 is
carried and the other RTX engines are built on the GPU machine's CPU, inside the RTX stage. Also per network:
inputs-MODEL.npz, the generated set preprocessed, its masks, and ORT CPU FP32 logits of the seed-0 network
(the PyTorch stage's reference). bundle.json lists every file with its size.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from edgeseg.artifacts import atomic_path, read_sidecar, sidecar_path, write_json_atomic, write_sidecar
from edgeseg.errors import EdgesegError

NETWORKS = ("unet", "tinyunet", "ulite", "sdunet")  # U-Net first: every ratio needs it
PRECISIONS = ("fp32", "fp16", "int8")
RTX_AOT = {"tinyunet": ("fp16",)}  # model -> precisions whose RTX engine is built here and carried
DEFAULT_BUNDLE = Path(".doctor-bundle")
MAX_BUNDLE_MB = 64.0
DATA_N = 8
SCHEMA = "edgeseg-doctor-bundle/1"


def graph_name(model: str, precision: str) -> str:
    return f"{model}.onnx" if precision == "fp32" else f"{model}.{precision}.onnx"


def data_dir(bundle: Path, channels: int) -> Path:
    return bundle / f"data-c{channels}"


def inputs_path(bundle: Path, model: str) -> Path:
    return bundle / f"inputs-{model}.npz"


def load_inputs(bundle: str | Path, model: str) -> tuple[Any, Any, Any]:
    """(x N x C x H x W float32, ground-truth masks N x H x W, ORT CPU FP32 logits of the seed-0 network)."""
    import numpy as np

    with np.load(inputs_path(Path(bundle), model)) as z:
        return z["x"].astype(np.float32), z["masks"], z["ort_seed0_logits"].astype(np.float32)


def _save_inputs(out: Path, model: str, data: Path, seed0_onnx: Path) -> None:
    """The generated set preprocessed as the model's export records, and ORT CPU FP32 on the seed-0 export:
    the PyTorch CUDA stage rebuilds that network (registry, seed 0) and compares with these logits."""
    import numpy as np

    from edgeseg.data.dataset import SegFolder
    from edgeseg.data.preprocess import Preprocess
    from edgeseg.evaluate import label_map_for, load_arrays
    from edgeseg.runtime.ort_runner import OnnxRuntimeRunner

    pp = Preprocess.from_dict((read_sidecar(seed0_onnx) or {})["preprocess"])
    samples = SegFolder(data).samples
    x, masks = load_arrays(samples, pp, label_map_for(samples, pp))
    x = x.astype(np.float16).astype(np.float32)  # carried as float16; both sides run these exact values
    with OnnxRuntimeRunner(seed0_onnx, threads=2) as r:
        ref = np.concatenate([r.infer({"input": x[i:i + 1]})["logits"] for i in range(len(x))])
    with atomic_path(inputs_path(out, model)) as tmp, open(tmp, "wb") as f:
        np.savez_compressed(f, x=x.astype(np.float16), masks=masks.astype(np.uint8),
                            ort_seed0_logits=ref.astype(np.float16))


def _input(model: str) -> tuple[int, int, int]:
    from edgeseg.models import get_model_info

    return get_model_info(model).reference_input


def make_bundle(out: str | Path = DEFAULT_BUNDLE, networks: tuple[str, ...] = NETWORKS,
                rtx_aot: dict[str, tuple[str, ...]] | None = None) -> dict[str, Any]:
    """Make (or remake) the bundle in `out`; -> bundle.json's content. Slow parts reuse the edgeseg cache."""
    import onnx

    from edgeseg.calib import make_calib
    from edgeseg.data.synth import make_synthetic
    from edgeseg.doctor.seeded import pack, reseed
    from edgeseg.export import export_onnx
    from edgeseg.quantize import quantize_fp16, quantize_int8

    out = Path(out)
    work = out / ".work"  # full graphs (embedded weights) and calibration: not part of the bundle
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    nets: dict[str, Any] = {}
    for model in networks:
        c, h, w = _input(model)
        data = make_synthetic(data_dir(out, c), n=DATA_N, size=h, channels=c) if h == w else None
        if data is None:
            raise EdgesegError(f"{model}: reference input {h}x{w} is not square; the generated set is square")
        src = export_onnx(model, size=(h, w), check=False)
        _save_inputs(out, model, data, src)
        m = onnx.load(str(src))
        bases = reseed(m)
        fp32 = work / graph_name(model, "fp32")
        onnx.save(m, str(fp32))
        meta = {k: v for k, v in (read_sidecar(src) or {}).items() if k != "sha256"}
        meta["weights"] = {"kind": "seeded", "note": "random N(0, std) per tensor, for the GPU checks only"}
        write_sidecar(fp32, meta)
        calib = make_calib(data, n=DATA_N, out=work / f"calib-{model}.json", size=(h, w), channels=c, split=None)
        made = {"fp32": fp32, "fp16": quantize_fp16(fp32, out=work / graph_name(model, "fp16")),
                "int8": quantize_int8(fp32, calib, out=work / graph_name(model, "int8"))}
        files = {}
        for prec, path in made.items():
            dst = out / graph_name(model, prec)
            man = pack(path, dst, bases)
            side = {k: v for k, v in (read_sidecar(path) or {}).items() if k != "sha256"}
            write_sidecar(dst, {**side, "external_data": man["data"], "data_sha256": man["data_sha256"]})
            files[prec] = {"graph": dst.name, "raw_bytes": man["raw_bytes"], "data_bytes": man["data_bytes"],
                           "recipes": sorted({s["recipe"]["kind"] for s in man["segments"]})}
        nets[model] = {"input": [1, c, h, w], "data": data_dir(out, c).name, "graphs": files, "rtx_engines": {}}
        nets[model]["rtx_engines"] = _rtx_engines(out, model, (RTX_AOT if rtx_aot is None else rtx_aot).get(model, ()))
    for p in out.glob("*.onnx.data"):  # regenerated on the GPU machine (materialize); not carried
        p.unlink()
    shutil.rmtree(work, ignore_errors=True)
    doc = {"schema": SCHEMA, "networks": nets, "files": _listing(out)}
    doc["total_mb"] = round(sum(f["bytes"] for f in doc["files"]) / 2**20, 3)
    if doc["total_mb"] > MAX_BUNDLE_MB:
        raise EdgesegError(f"{out}: bundle is {doc['total_mb']} MiB, over the {MAX_BUNDLE_MB:.0f} MiB the GPU "
                           f"machine takes; carry fewer RTX engines (RTX_AOT)")
    write_json_atomic(out / "bundle.json", doc)
    return doc


def _rtx_engines(out: Path, model: str, precisions: tuple[str, ...]) -> dict[str, str]:
    """TensorRT-RTX engines built here, on the CPU, for the default targets (8.0, 8.6, 8.9, 12.x)."""
    import importlib.util

    from edgeseg.engine import build_engine

    if not precisions or importlib.util.find_spec("tensorrt_rtx_bindings") is None:
        return {}
    got = {}
    for prec in precisions:
        eng = build_engine(out / graph_name(model, prec), backend="tensorrt-rtx",
                           out=out / "engines" / f"{model}.{prec}.rtx.engine")
        got[prec] = str(eng.relative_to(out))
    return got


def _listing(root: Path) -> list[dict[str, Any]]:
    return [{"path": str(p.relative_to(root)), "bytes": p.stat().st_size}
            for p in sorted(root.rglob("*")) if p.is_file() and p.name != "bundle.json"]


def load_bundle(root: str | Path) -> dict[str, Any]:
    """bundle.json, or a one-line error saying how to make the bundle."""
    path = Path(root) / "bundle.json"
    try:
        doc = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        raise EdgesegError(f"{path}: no doctor bundle here; make it with edgeseg doctor --make-bundle --bundle "
                           f"{root}, and carry that folder to the GPU machine") from None
    if doc.get("schema") != SCHEMA:
        raise EdgesegError(f"{path}: not a {SCHEMA} file; remake it with edgeseg doctor --make-bundle")
    return doc


def graph(root: str | Path, model: str, precision: str) -> Path:
    """The bundle's graph for (model, precision), its external data regenerated and checked first."""
    from edgeseg.doctor.seeded import materialize

    path = Path(root) / graph_name(model, precision)
    materialize(path)
    return path


def rtx_engine(root: str | Path, model: str, precision: str) -> Path | None:
    path = Path(root) / "engines" / f"{model}.{precision}.rtx.engine"
    return path if path.is_file() and sidecar_path(path).is_file() else None


def engine_onnx_sha(engine: Path) -> str | None:
    meta = read_sidecar(engine) or {}
    return (meta.get("onnx") or {}).get("sha256")

