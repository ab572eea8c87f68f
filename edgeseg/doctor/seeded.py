"""ONNX graphs whose weights are regenerated from seeds: how the doctor's bundle carries U-Net in a few MiB.

The GPU machine gets at most 64 MiB from the work tree, and U-Net's weights alone are 124 MB in FP32. The
doctor checks engines against ONNX Runtime *on the same graph* and times them, which needs the real graph and
real-sized weights but not trained ones. So the bundle's FP32 graph gets seeded weights (`reseed`: each large
initializer replaced by N(0, its own std) from numpy's PCG64 with a fixed seed), the FP16 and Q/DQ INT8 graphs
are made from it by the ordinary edgeseg steps, and `pack` stores every graph with its large tensors as ONNX
*external data* described by recipes:

* ``normal``: the seeded FP32 tensor itself;
* ``cast16``: that tensor through onnxconverter-common's FP16 rule (tiny values to +-1e-7, clip, cast);
* ``quant``: that tensor quantized as ONNX Runtime does, round-half-even(w / scale) clipped to int8, with the
  (small) scale stored in the manifest;
* ``raw``: bytes carried as they are (anything the recipes do not reproduce exactly).

`materialize` rebuilds the `.data` file beside the graph with numpy alone (no onnx package on the GPU
machine) and checks every tensor's sha256, so what runs there is byte for byte what was packed here.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from edgeseg.artifacts import atomic_path, write_json_atomic
from edgeseg.errors import EdgesegError

MIN_ELEMS = 4096          # smaller initializers stay inside the graph file
MANIFEST_SUFFIX = ".seeds.json"
FP16_MIN, FP16_MAX = 1e-7, 65504.0  # onnxconverter-common float16.convert_float_to_float16 defaults


def normal(seed: int, shape: tuple[int, ...], std: float) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape, dtype=np.float32) * np.float32(std)


def cast16(w: np.ndarray) -> np.ndarray:
    w = np.where((w > 0) & (w < FP16_MIN), np.float32(FP16_MIN), w)
    w = np.where((w < 0) & (w > -FP16_MIN), np.float32(-FP16_MIN), w)
    return np.clip(w, -FP16_MAX, FP16_MAX).astype(np.float16)


def quant(w: np.ndarray, scale: np.ndarray, axis: int | None) -> np.ndarray:
    s = np.asarray(scale, np.float32)
    if s.ndim == 1 and s.size > 1 and axis is not None:
        shape = [1] * w.ndim
        shape[axis] = s.size
        s = s.reshape(shape)
    return np.clip(np.rint(w / s), -128, 127).astype(np.int8)


def reseed(model: Any) -> dict[str, dict[str, Any]]:
    """Replace the large float32 initializers of `model` (in place) by seeded normals; -> {name: recipe}."""
    from onnx import numpy_helper

    bases = {}
    for seed, init in enumerate(model.graph.initializer):
        arr = numpy_helper.to_array(init)
        if arr.dtype != np.float32 or arr.size < MIN_ELEMS:
            continue
        std = float(np.float32(arr.std())) or 0.05
        new = normal(seed, arr.shape, std)
        init.CopyFrom(numpy_helper.from_array(new, init.name))
        bases[init.name] = {"seed": seed, "std": std, "shape": list(arr.shape)}
    return bases


def _dq_scales(model: Any) -> dict[str, tuple[np.ndarray, int | None]]:
    """Quantized weight name -> (scale, axis) from the DequantizeLinear nodes that read it."""
    from onnx import helper, numpy_helper

    inits = {i.name: i for i in model.graph.initializer}
    out = {}
    for node in model.graph.node:
        if node.op_type == "DequantizeLinear" and node.input[0] in inits and node.input[1] in inits:
            axis = next((helper.get_attribute_value(a) for a in node.attribute if a.name == "axis"), 1)
            out[node.input[0]] = (numpy_helper.to_array(inits[node.input[1]]), int(axis))
    return out


def _recipe(name: str, arr: np.ndarray, bases: dict[str, dict[str, Any]],
            scales: dict[str, tuple[np.ndarray, int | None]]) -> dict[str, Any] | None:
    """A recipe that reproduces `arr` exactly from one of `bases`, or None."""
    same = [b for b in bases.values() if tuple(b["shape"]) == arr.shape]
    by_name = [bases[n] for n in bases if name.startswith(n)]
    for b in by_name + [b for b in same if b not in by_name]:
        if tuple(b["shape"]) != arr.shape:
            continue
        w = normal(b["seed"], arr.shape, b["std"])
        if arr.dtype == np.float32 and np.array_equal(w, arr):
            return {"kind": "normal", "seed": b["seed"], "std": b["std"]}
        if arr.dtype == np.float16 and np.array_equal(cast16(w), arr):
            return {"kind": "cast16", "seed": b["seed"], "std": b["std"]}
        if arr.dtype == np.int8 and name in scales:
            scale, axis = scales[name]
            if np.array_equal(quant(w, scale, axis), arr):
                return {"kind": "quant", "seed": b["seed"], "std": b["std"], "axis": axis,
                        "scale": [float(v) for v in np.asarray(scale, np.float32).reshape(-1)]}
    return None


def pack(src: str | Path, out: str | Path, bases: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Write `out` (graph, large tensors external in OUT.data) + OUT.seeds.json (+ OUT.raw); -> the manifest.

    OUT.data is written too (the engines are built from it here); the bundle leaves it out."""
    import onnx
    from onnx import numpy_helper

    out = Path(out)
    model = onnx.load(str(src))
    scales = _dq_scales(model)
    data_name, raw_name = out.name + ".data", out.name + ".raw"
    segments, data, raw = [], bytearray(), bytearray()
    for init in model.graph.initializer:
        arr = numpy_helper.to_array(init)
        if arr.size < MIN_ELEMS:
            continue
        blob = np.ascontiguousarray(arr).tobytes()
        recipe = _recipe(init.name, arr, bases, scales)
        if recipe is None:
            recipe = {"kind": "raw", "offset": len(raw)}
            raw += blob
        seg = {"name": init.name, "dtype": arr.dtype.name, "shape": list(arr.shape), "offset": len(data),
               "length": len(blob), "sha256": hashlib.sha256(blob).hexdigest(), "recipe": recipe}
        segments.append(seg)
        data += blob
        init.ClearField("raw_data")
        for f in ("float_data", "int32_data", "int64_data"):
            init.ClearField(f)
        init.data_location = onnx.TensorProto.EXTERNAL
        del init.external_data[:]
        for k, v in (("location", data_name), ("offset", str(seg["offset"])), ("length", str(seg["length"]))):
            init.external_data.add(key=k, value=v)
    with atomic_path(out) as tmp:
        tmp.write_bytes(model.SerializeToString())
    with atomic_path(out.with_name(data_name)) as tmp:
        tmp.write_bytes(bytes(data))
    if raw:
        with atomic_path(out.with_name(raw_name)) as tmp:
            tmp.write_bytes(bytes(raw))
    manifest = {"schema": "edgeseg-seeded-onnx/1", "graph": out.name, "data": data_name,
                "raw": raw_name if raw else None, "data_bytes": len(data),
                "data_sha256": hashlib.sha256(bytes(data)).hexdigest(), "segments": segments,
                "raw_bytes": len(raw)}
    write_json_atomic(out.with_name(out.name + MANIFEST_SUFFIX), manifest)
    return manifest


def _regenerate(seg: dict[str, Any], raw: bytes | None) -> bytes:
    r, shape = seg["recipe"], tuple(seg["shape"])
    if r["kind"] == "raw":
        if raw is None:
            raise EdgesegError(f"{seg['name']}: its bytes are carried in the .raw file, which is missing")
        return raw[r["offset"]:r["offset"] + seg["length"]]
    w = normal(r["seed"], shape, r["std"])
    if r["kind"] == "cast16":
        w = cast16(w)
    elif r["kind"] == "quant":
        w = quant(w, np.asarray(r["scale"], np.float32), r["axis"])
    return np.ascontiguousarray(w).tobytes()


def materialize(graph: str | Path) -> Path:
    """Write GRAPH.data from GRAPH.seeds.json (numpy only) and check it; reuse one that already matches."""
    graph = Path(graph)
    mpath = graph.with_name(graph.name + MANIFEST_SUFFIX)
    try:
        manifest = json.loads(mpath.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise EdgesegError(f"{mpath}: unreadable seeded-ONNX manifest ({type(e).__name__}); remake the bundle "
                           f"with edgeseg doctor --make-bundle") from None
    data_path = graph.with_name(manifest["data"])
    if data_path.is_file() and data_path.stat().st_size == manifest["data_bytes"]:
        if hashlib.sha256(data_path.read_bytes()).hexdigest() == manifest["data_sha256"]:
            return data_path
    raw = graph.with_name(manifest["raw"]).read_bytes() if manifest.get("raw") else None
    with atomic_path(data_path) as tmp, open(tmp, "wb") as f:
        for seg in manifest["segments"]:
            blob = _regenerate(seg, raw)
            if hashlib.sha256(blob).hexdigest() != seg["sha256"]:
                raise EdgesegError(f"{graph}: tensor {seg['name']!r} regenerated differently here (numpy "
                                   f"{np.__version__}); remake the bundle on this machine with edgeseg doctor "
                                   f"--make-bundle")
            f.write(blob)
    return data_path
