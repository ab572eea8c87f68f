"""FP16 and INT8 (explicit Q/DQ) ONNX graphs that TensorRT / TensorRT-RTX accept, strongly typed.

FP16: onnxconverter-common's pass with float32 I/O kept (Cast at the boundaries) and the ops in
`FP16_KEEP_FP32` left in float32. INT8: onnxruntime.quantization.quantize_static in QDQ format configured
the way TensorRT wants it (ORT's default output - asymmetric uint8 activations, int32-quantized biases,
Q/DQ on outputs - is rejected): symmetric int8 (zero point 0), per-channel weights, Q/DQ only on the
inputs of Conv/ConvTranspose/Gemm, biases left in float. Every artifact gets a sidecar with its inputs'
hashes; the same inputs give the same bytes and are reused.

Two INT8 Q/DQ layouts (`qdq=`), same calibration, same symmetric int8 / per-channel weights / float biases:

* "conv-inputs" (default; for TensorRT / TensorRT-RTX): Q/DQ only on the activation inputs of
  Conv/ConvTranspose/Gemm, the placement TensorRT recommends (it fuses the rest itself). ONNX Runtime CPU
  runs it SLOWER than FP32: its QLinearConv fusion needs DQ -> Conv -> Q, and no Q follows a Conv here.
* "conv-io" (for ONNX Runtime CPU): Q/DQ on those inputs AND on every quantized op's output, so ORT fuses
  each Conv into QLinearConv (measured: U-Net 256x256, 2 threads, 2.2-2.6x faster than FP32). The only other
  ops that read int8-rounded values are the consumers of a Conv's output Q/DQ (the Relu/Add/Concat/Resize...
  right after a Conv, kept as float ops between the DQ and the next Q); a tensor that is Q/DQ'd only because
  it feeds a Conv is still read in float by its other consumers, and a Conv that produces the graph output
  (`logits`) keeps a float output. TensorRT-RTX also builds it.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from edgeseg.artifacts import (
    atomic_path,
    cache_key,
    check_output_path,
    default_cache_dir,
    library_versions,
    read_sidecar,
    reuse_if_fresh,
    sha256_file,
    write_sidecar,
)
from edgeseg.errors import EdgesegError
from edgeseg.export import INPUT_NAME, OUTPUT_NAME, load_onnx_checked

if TYPE_CHECKING:
    from edgeseg.data.preprocess import Preprocess

QUANT_OPS = ["Conv", "ConvTranspose", "Gemm"]
METHODS = ("minmax", "entropy", "percentile")
# Ops kept in float32 in the FP16 graph on top of onnxconverter-common's default block list (Resize,
# Upsample, Range, TopK, ...: coordinate/index maths). Measured on all networks (random init, synthetic
# images, ORT CPU): also keeping ReduceMean/Pow/Sqrt/Div in float32 changed neither the max error nor the
# mask agreement, so only the normalisation ops stay float32, as a guard for trained activations whose
# spatial variance can overflow fp16 (65504) in a fp16 reduction.
# Normalisation statistics stay float32: SD-UNet's GroupNorm is exported as ReduceMean/ReduceSum (see
# edgeseg.models.sdunet.ExportGroupNorm), and a float16 sum over a whole group can overflow or drift.
FP16_KEEP_FP32 = ["InstanceNormalization", "GroupNormalization", "LayerNormalization", "ReduceMean", "ReduceSum"]
# onnxruntime.quantization extra options that make its QDQ output acceptable to TensorRT.
TRT_QDQ_OPTIONS: dict[str, Any] = {
    "ActivationSymmetric": True,      # zero point 0 (TensorRT supports symmetric quantization only)
    "WeightSymmetric": True,
    "QuantizeBias": False,            # biases stay float; TensorRT fuses them itself
    "OpTypesToExcludeOutputQuantization": QUANT_OPS,  # Q/DQ on Conv inputs only
    "AddQDQPairToWeight": False,      # int8 weight initialisers + DequantizeLinear (4x smaller file)
    "DedicatedQDQPair": False,
    "QDQKeepRemovableActivations": True,
}
QDQ_LAYOUTS = ("conv-inputs", "conv-io")
# "conv-io": the same, with Q/DQ on the quantized ops' outputs too (ORT then fuses DQ->Conv->Q to QLinearConv).
ORT_QDQ_OPTIONS: dict[str, Any] = {k: v for k, v in TRT_QDQ_OPTIONS.items()
                                   if k != "OpTypesToExcludeOutputQuantization"}


def qdq_options(qdq: str) -> dict[str, Any]:
    """onnxruntime.quantization extra options for a Q/DQ layout (see the module docstring)."""
    if qdq not in QDQ_LAYOUTS:
        raise EdgesegError(f"unknown Q/DQ layout {qdq!r}; use one of {', '.join(QDQ_LAYOUTS)} "
                           f"(conv-inputs for TensorRT, conv-io for ONNX Runtime CPU)")
    return dict(TRT_QDQ_OPTIONS if qdq == "conv-inputs" else ORT_QDQ_OPTIONS)


def _out_path(kind: str, src: Path, key: str, out: str | Path | None, tag: str = "") -> Path:
    if out is not None:
        return Path(out)
    return default_cache_dir() / kind / f"{src.stem}{tag}-{key}.onnx"


# ----------------------------------------------------------------------------------------------- FP16

def quantize_fp16(onnx_path: str | Path, out: str | Path | None = None) -> Path:
    """FP16 weights/activations, float32 `input`/`logits` kept; returns the path."""
    import onnx

    src = Path(onnx_path)
    model = load_onnx_checked(src)
    carried = _carry(src)  # reads the source's sidecar: a damaged one fails before any work
    key = cache_key({"step": "fp16", "source_sha256": sha256_file(src), "keep_fp32": FP16_KEEP_FP32,
                     "versions": library_versions()})
    out = _out_path("fp16", src, key, out)
    check_output_path(out)
    if reuse_if_fresh(out, key) is not None:
        return out
    try:
        from onnxconverter_common import float16
    except ImportError:
        from edgeseg.errors import MissingDependencyError

        raise MissingDependencyError("FP16 conversion needs onnxconverter-common; pip install onnxconverter-common"
                                     ) from None
    block = sorted(set(float16.DEFAULT_OP_BLOCK_LIST) | set(FP16_KEEP_FP32))
    with warnings.catch_warnings():  # one warning per tiny weight truncated to fp16's 1e-7 floor
        warnings.simplefilter("ignore")
        m16 = float16.convert_float_to_float16(model, keep_io_types=True, op_block_list=block,
                                               disable_shape_infer=False)
    with atomic_path(out) as tmp:
        onnx.save(m16, str(tmp))
        load_onnx_checked(tmp)
    write_sidecar(out, {"kind": "onnx-fp16", "cache_key": key, "precision": "fp16",
                        "source": {"path": str(src), "sha256": sha256_file(src)},
                        "kept_fp32_ops": block, "io_dtype": "float32", "versions": library_versions(),
                        **carried})
    return out


def _carry(src: Path) -> dict[str, Any]:
    """Model/preprocess/split metadata copied from the FP32 export's sidecar so eval can reuse them."""
    meta = read_sidecar(src) or {}
    return {k: meta[k] for k in ("model", "preprocess", "split", "weights", "inputs", "outputs") if k in meta}


# ----------------------------------------------------------------------------------------------- INT8

def _input_shape(model) -> list[int | None]:
    inp = [i for i in model.graph.input if i.name == INPUT_NAME] or list(model.graph.input)
    return [d.dim_value if d.dim_value > 0 else None for d in inp[0].type.tensor_type.shape.dim]


class _Reader:
    """onnxruntime CalibrationDataReader over the manifest's preprocessed images."""

    def __init__(self, manifest: dict[str, Any], batch: int, pre: Preprocess) -> None:
        from edgeseg.calib import calib_batches

        self.batches = list(calib_batches(manifest, batch, pre))
        self.it: Iterator[np.ndarray] = iter(self.batches)

    def get_next(self) -> dict[str, np.ndarray] | None:
        x = next(self.it, None)
        return None if x is None else {INPUT_NAME: x}

    def rewind(self) -> None:
        self.it = iter(self.batches)


class _PreprocessHintFilter(logging.Filter):
    """Drops ONNX Runtime's "Please consider to run pre-processing before quantization" root-logger warning,
    printed on every call: our graphs come from onnxsim (constant-folded, shapes inferred) and quantize_static
    infers shapes itself. Every other record passes."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "pre-processing before quantization" not in record.getMessage()


@contextlib.contextmanager
def _without_preprocess_hint() -> Iterator[None]:
    root, f = logging.getLogger(), _PreprocessHintFilter()
    root.addFilter(f)
    try:
        yield
    finally:
        root.removeFilter(f)


def _quantize_static(src: Path, dst: Path, manifest: dict[str, Any], batch: int, method: str,
                     exclude: list[str], calib_cache: Path | None, qdq: str, pre: Preprocess) -> None:
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    reader = _Reader(manifest, batch, pre)

    class Reader(CalibrationDataReader):
        def get_next(self):  # noqa: ANN201
            return reader.get_next()

    calib_method = {"minmax": CalibrationMethod.MinMax, "entropy": CalibrationMethod.Entropy,
                    "percentile": CalibrationMethod.Percentile}[method]
    extra = qdq_options(qdq)
    if method == "percentile":
        extra["CalibPercentile"] = 99.99
    with _without_preprocess_hint():
        quantize_static(str(src), str(dst), Reader(), quant_format=QuantFormat.QDQ,
                        op_types_to_quantize=QUANT_OPS, per_channel=True, reduce_range=False,
                        activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
                        nodes_to_exclude=list(exclude), calibrate_method=calib_method, extra_options=extra,
                        **({"calibration_cache_path": str(calib_cache)} if calib_cache else {}))
    _float_for_other_consumers(dst, keep_output_qdq=qdq == "conv-io")


def _float_for_other_consumers(path: Path, keep_output_qdq: bool = False) -> int:
    """Rewire non-Conv consumers of a dequantized activation back to the float tensor.

    ORT shares one Q/DQ pair among all consumers of a tensor, so a Concat/Add beside a Conv would read the
    int8-rounded value (Q/DQ on a non-Conv input, and a lossy skip path). With `keep_output_qdq` ("conv-io")
    the Q/DQ pairs on a quantized op's OUTPUT keep all their consumers (that is the layout: the next op reads
    the int8 value, so ORT can fuse DQ->Conv->Q); only input-side pairs are rewired. Returns inputs moved.
    """
    import onnx

    m = onnx.load(str(path))
    g = m.graph
    q_by_out = {n.output[0]: n for n in g.node if n.op_type == "QuantizeLinear"}
    conv_outputs = {t for n in g.node if n.op_type in QUANT_OPS for t in n.output} if keep_output_qdq else set()
    float_of = {}  # DQ output -> the float tensor its Q read
    for n in g.node:
        if n.op_type == "DequantizeLinear" and n.input[0] in q_by_out:
            if q_by_out[n.input[0]].input[0] not in conv_outputs:
                float_of[n.output[0]] = q_by_out[n.input[0]].input[0]
    moved = 0
    for n in g.node:
        if n.op_type in QUANT_OPS:
            continue
        for i, t in enumerate(n.input):
            if t in float_of:
                n.input[i] = float_of[t]
                moved += 1
    if keep_output_qdq:
        moved += _float_graph_outputs(g, q_by_out)
    if moved:
        onnx.save(m, str(path))
    return moved


def _float_graph_outputs(g, q_by_out: dict) -> int:
    """Drop an output Q/DQ pair that only rounds a graph output (`logits`): nothing downstream gains from
    int8 there, and the sign of small logits (the mask) would be rounded to 0. Returns pairs removed."""
    prod = {o: n for n in g.node for o in n.output}
    users = {}
    for n in g.node:
        for t in n.input:
            users[t] = users.get(t, 0) + 1
    removed = 0
    for out in g.output:
        dq = prod.get(out.name)
        if dq is None or dq.op_type != "DequantizeLinear" or dq.input[0] not in q_by_out:
            continue
        q = q_by_out[dq.input[0]]
        src = prod.get(q.input[0])
        if src is None or src.op_type not in QUANT_OPS or users.get(q.input[0]) != 1 or users.get(q.output[0]) != 1:
            continue
        src.output[list(src.output).index(q.input[0])] = out.name
        for n in (q, dq):
            g.node.remove(n)
        removed += 1
    if removed:  # their scale/zero-point initialisers, now unused
        used = {t for n in g.node for t in n.input}
        for init in [i for i in g.initializer if i.name not in used]:
            g.initializer.remove(init)
    return removed


def quantize_int8(onnx_path: str | Path, calib: str | Path | dict[str, Any], out: str | Path | None = None,
                  method: str = "minmax", max_dice_drop: float | None = None, data: str | Path | None = None,
                  eval_n: int = 16, qdq: str = "conv-inputs") -> Path:
    """Explicit Q/DQ INT8 graph calibrated on `calib` (name under calib/, manifest path, or loaded manifest).

    `qdq`: "conv-inputs" (TensorRT placement, default) or "conv-io" (also Q/DQ on Conv outputs: fast in
    ONNX Runtime CPU); see the module docstring.

    With `max_dice_drop` (percentage points) and `data`, the Dice drop vs the FP32 graph is measured on
    held-out images and the most sensitive layers are left in float until the drop is within budget.
    """
    from edgeseg.calib import load_calib, model_preprocess

    if method not in METHODS:
        raise EdgesegError(f"unknown calibration method {method!r}; use one of {', '.join(METHODS)}")
    options = qdq_options(qdq)
    src = Path(onnx_path)
    model = load_onnx_checked(src)
    manifest = calib if isinstance(calib, dict) else load_calib(calib, verify=True)
    shape = _input_shape(model)
    carried = _carry(src)  # reads the source's sidecar: a damaged one fails before any work
    pre = model_preprocess(src, shape, manifest)  # the model's size/normalisation, not the manifest's
    batch = shape[0] or 1
    if len(manifest["images"]) < batch:
        raise EdgesegError(f"{manifest['manifest_path']}: {len(manifest['images'])} images, fewer than the "
                           f"model's batch {batch}; make a larger calibration set")
    if (max_dice_drop is None) != (data is None):
        raise EdgesegError("--max-dice-drop and --data go together (the budget is measured on --data images)")
    if max_dice_drop is not None and not max_dice_drop >= 0:
        raise EdgesegError(f"--max-dice-drop {max_dice_drop}: the Dice budget is a drop in percentage points, >= 0")
    eval_set = _eval_images(Path(data), manifest, eval_n) if data is not None else None
    key_in = {"step": "int8", "source_sha256": sha256_file(src), "calib_sha256": manifest["manifest_sha256"],
              "method": method, "options": options, "ops": QUANT_OPS, "max_dice_drop": max_dice_drop,
              "eval": [e["sha256"] for e in eval_set] if eval_set else None, "versions": library_versions(),
              "calib_preprocess": pre.to_dict()}
    if qdq != "conv-inputs":  # the default's key (and cached files) stay what they were before layouts existed
        key_in["qdq"] = qdq
    key = cache_key(key_in)
    out = _out_path("int8", src, key, out, "" if qdq == "conv-inputs" else "-convio")
    check_output_path(out)
    if reuse_if_fresh(out, key) is not None:
        return out

    excluded: list[str] = []
    budget: dict[str, Any] | None = None
    with atomic_path(out) as tmp:
        _quantize_static(src, tmp, manifest, batch, method, excluded, None, qdq, pre)
        if eval_set is not None:
            budget = _fit_budget(src, tmp, manifest, batch, method, eval_set, float(max_dice_drop), qdq, pre)
            excluded = budget["excluded_nodes"]
        load_onnx_checked(tmp)
    write_sidecar(out, {
        "kind": "onnx-int8-qdq", "cache_key": key, "precision": "int8",
        "source": {"path": str(src), "sha256": sha256_file(src)},
        "calib": {"manifest": manifest["manifest_path"], "sha256": manifest["manifest_sha256"],
                  "n": len(manifest["images"]), "seed": manifest.get("seed"), "preprocess": pre.to_dict()},
        "method": method, "qdq_layout": qdq,
        "options": {"format": "QDQ", "activation": "QInt8 symmetric", "weight": "QInt8 symmetric",
                    "per_channel": True, "op_types": QUANT_OPS, "extra_options": options},
        "float_nodes": excluded, "dice_budget": budget, "versions": library_versions(), **carried})
    return out


# ------------------------------------------------------------------------------ Dice budget + sensitivity

def dice(pred: np.ndarray, ref: np.ndarray) -> float:
    """Dice of two boolean arrays (edgeseg.metrics convention: 1.0 when both are empty)."""
    from edgeseg.metrics import dice as _dice

    return _dice(pred, ref)


def _eval_images(data: Path, manifest: dict[str, Any], n: int) -> list[dict[str, Any]]:
    """Held-out images (not in the calibration set) from `data`, deterministic order, with masks if any."""
    from edgeseg.calib import _list_pairs

    if not data.is_dir():
        raise EdgesegError(f"{data}: no such data directory for the Dice budget; pass --data DIR")
    used = {i["sha256"] for i in manifest["images"]}
    pairs = _list_pairs(data)
    if manifest.get("split") and manifest.get("checkpoint") and Path(manifest["checkpoint"]).is_file():
        # Calibrated on a run's training split: decide the budget on its validation split, so neither the
        # training images nor the test images (kept for the final report) choose the float layers.
        from edgeseg.checkpoint import read_checkpoint

        val = set((read_checkpoint(manifest["checkpoint"]).get("split") or {}).get("val") or [])
        pairs = [p for p in pairs if p[0].stem in val] or pairs
    out = []
    for img, mask in pairs:
        h = sha256_file(img)
        if h not in used:
            out.append({"image": img, "mask": mask, "sha256": h})
        if len(out) == n:
            break
    if not out:
        raise EdgesegError(f"{data}: no images outside the calibration set to measure the Dice drop on; "
                           f"pass held-out data")
    return out


def _preds(path: Path, xs: list[np.ndarray], extra_outputs: list[str] | None = None) -> list[dict[str, np.ndarray]]:
    import onnx
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    so.log_severity_level = 3
    if extra_outputs:
        m = onnx.load(str(path))
        have = {o.name for o in m.graph.output}
        for name in extra_outputs:
            if name not in have:
                m.graph.output.append(onnx.helper.make_empty_tensor_value_info(name))
        sess = ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"])
    else:
        sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    return [dict(zip(names, sess.run(None, {INPUT_NAME: x}), strict=True)) for x in xs]


def _segment(logits: np.ndarray) -> np.ndarray:
    return logits[:, 0] > 0 if logits.shape[1] == 1 else logits.argmax(1) > 0


def _eval_batches(eval_set: list[dict[str, Any]], pre: Preprocess, batch: int):
    from edgeseg.data.dataset import label_map_of, read_image, read_mask

    lm = label_map_of(pre)  # the foreground the network was trained for (e.g. ISBI membranes = mask value 0)

    def fg(e: dict[str, Any]) -> np.ndarray:
        raw = read_mask(e["mask"])
        labels = lm.apply(raw, e["mask"]) if lm is not None else (raw > 0).astype(np.uint8)
        return pre.mask(labels) > 0

    xs, gts = [], []
    usable = len(eval_set) // batch * batch
    for i in range(0, usable, batch):
        chunk = eval_set[i:i + batch]
        xs.append(np.stack([pre.image(read_image(e["image"])) for e in chunk]).astype(np.float32))
        if all(e["mask"] is not None for e in chunk):
            gts.append(np.stack([fg(e) for e in chunk]))
    if not xs:
        raise EdgesegError(f"fewer held-out images ({len(eval_set)}) than the model batch {batch}")
    return xs, (gts if len(gts) == len(xs) else None)


def measure_dice_drop(fp32: Path, int8: Path, xs: list[np.ndarray], gts: list[np.ndarray] | None) -> dict[str, Any]:
    """Dice drop (percentage points) of the INT8 graph vs the FP32 graph.

    With masks: mean Dice vs ground truth, FP32 minus INT8. Without: 100 * (1 - Dice(INT8 pred, FP32 pred)).
    """
    ref = [_segment(o[OUTPUT_NAME]) for o in _preds(fp32, xs)]
    q = [_segment(o[OUTPUT_NAME]) for o in _preds(int8, xs)]
    agree = float(np.mean([dice(a[i], b[i]) for a, b in zip(q, ref, strict=True) for i in range(len(a))]))
    res: dict[str, Any] = {"agreement_dice": agree, "images": sum(len(x) for x in xs)}
    if gts is not None:
        d32 = float(np.mean([dice(a[i], g[i]) for a, g in zip(ref, gts, strict=True) for i in range(len(a))]))
        d8 = float(np.mean([dice(a[i], g[i]) for a, g in zip(q, gts, strict=True) for i in range(len(a))]))
        res.update(reference="ground-truth masks", dice_fp32=d32, dice_int8=d8, drop_pp=100 * (d32 - d8))
    else:
        res.update(reference="fp32 predictions", drop_pp=100 * (1 - agree))
    return res


def layer_sensitivity(fp32: Path, int8: Path, xs: list[np.ndarray]) -> list[tuple[str, float]]:
    """(node name, error it adds) for every quantized op, worst first.

    Error added = normalised MSE (INT8 vs FP32 graph) of the node's output minus that of its activation
    input, so a layer is not blamed for the error accumulated upstream of it.
    """
    import onnx

    m = onnx.load(str(fp32))
    nodes = [(n.name, n.input[0], n.output[0]) for n in m.graph.node if n.op_type in QUANT_OPS]
    graph_in = {i.name for i in m.graph.input}
    tensors = sorted({t for _, i, o in nodes for t in (i, o) if t not in graph_in})
    a = _preds(fp32, xs[:2], tensors)
    b = _preds(int8, xs[:2], tensors)

    def nmse(t: str) -> float:
        if t in graph_in:
            return 0.0
        num = sum(float(np.sum((x[t] - y[t]) ** 2)) for x, y in zip(a, b, strict=True))
        return num / max(sum(float(np.sum(x[t] ** 2)) for x in a), 1e-12)

    scores = [(name, nmse(o) - nmse(i)) for name, i, o in nodes]
    return sorted(scores, key=lambda t: (-t[1], t[0]))


def _fit_budget(src: Path, tmp: Path, manifest: dict[str, Any], batch: int, method: str,
                eval_set: list[dict[str, Any]], max_drop: float, qdq: str, pre: Preprocess) -> dict[str, Any]:
    """Leave the most sensitive layers in float (1, 2, 4, ... of them) until the Dice drop fits the budget."""
    xs, gts = _eval_batches(eval_set, pre, batch)
    res = measure_dice_drop(src, tmp, xs, gts)
    history = [{"excluded": 0, "drop_pp": res["drop_pp"]}]
    ranking = layer_sensitivity(src, tmp, xs)
    excluded: list[str] = []
    k = 1
    with tempfile.TemporaryDirectory() as td:
        trial = Path(td) / "trial.onnx"
        cache = Path(td) / "ranges.json"  # calibrate once; the trials only change which nodes are quantized
        while res["drop_pp"] > max_drop and len(excluded) < len(ranking):
            excluded = [n for n, _ in ranking[:k]]
            _quantize_static(src, trial, manifest, batch, method, excluded, cache, qdq, pre)
            res = measure_dice_drop(src, trial, xs, gts)
            history.append({"excluded": len(excluded), "drop_pp": res["drop_pp"]})
            k = min(2 * k, len(ranking))
        if excluded:
            trial.replace(tmp)
    return {"max_dice_drop_pp": max_drop, **res, "within_budget": res["drop_pp"] <= max_drop,
            "excluded_nodes": excluded, "history": history,
            "sensitivity": [{"node": n, "added_nmse": s} for n, s in ranking[:10]]}
