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
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from edgeseg.artifacts import (
    ArtifactStep,
    build_step,
    code_identity,
    default_cache_dir,
    library_versions,
    read_sidecar,
    sha256_file,
)
from edgeseg.errors import EdgesegError
from edgeseg.export import load_onnx_checked
from edgeseg.graph import graph_input, graph_precision
from edgeseg.names import INPUT_NAME, QDQ_LAYOUTS

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
# "conv-io": the same, with Q/DQ on the quantized ops' outputs too (ORT then fuses DQ->Conv->Q to QLinearConv).
ORT_QDQ_OPTIONS: dict[str, Any] = {k: v for k, v in TRT_QDQ_OPTIONS.items()
                                   if k != "OpTypesToExcludeOutputQuantization"}


def qdq_options(qdq: str) -> dict[str, Any]:
    """onnxruntime.quantization extra options for a Q/DQ layout (see the module docstring)."""
    if qdq not in QDQ_LAYOUTS:
        raise EdgesegError(f"unknown Q/DQ layout {qdq!r}; use one of {', '.join(QDQ_LAYOUTS)} "
                           f"(conv-inputs for TensorRT, conv-io for ONNX Runtime CPU)")
    return dict(TRT_QDQ_OPTIONS if qdq == "conv-inputs" else ORT_QDQ_OPTIONS)


def _step(kind: str, src: Path, key_payload: dict[str, Any], out: str | Path | None, tag: str = "") -> ArtifactStep:
    """The FP16/INT8 step: output `out`, or CACHE/KIND/STEM[TAG]-KEY.onnx."""
    return build_step(key_payload, out, lambda key: default_cache_dir() / kind / f"{src.stem}{tag}-{key}.onnx")


# ----------------------------------------------------------------------------------------------- FP16

def _converter_version() -> str | None:
    """onnxconverter-common's version: its float16 pass makes the FP16 graph, so it is part of the key."""
    import importlib.metadata as md

    try:
        return md.version("onnxconverter-common")
    except md.PackageNotFoundError:
        return None


def quantize_fp16(onnx_path: str | Path, out: str | Path | None = None) -> Path:
    """FP16 weights/activations, float32 `input`/`logits` kept; returns the path."""
    import onnx

    src = Path(onnx_path)
    model = load_onnx_checked(src)
    carried = _carry(src)  # reads the source's sidecar: a damaged one fails before any work
    step = _step("fp16", src, {"step": "fp16", "source_sha256": sha256_file(src), "keep_fp32": FP16_KEEP_FP32,
                               "versions": library_versions(), "onnxconverter_common": _converter_version(),
                               "code": code_identity()}, out)
    if step.reused is not None:
        return step.out
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
    with step.writing() as tmp:
        onnx.save(m16, str(tmp))
        load_onnx_checked(tmp)
    step.finish("onnx-fp16", {"precision": "fp16", "kept_fp32_ops": block, "io_dtype": "float32", **carried},
                source=src, versions={**library_versions(), "onnxconverter-common": _converter_version()})
    return step.out


def _carry(src: Path) -> dict[str, Any]:
    """Model/preprocess/split metadata copied from the FP32 export's sidecar so eval can reuse them."""
    meta = read_sidecar(src) or {}
    return {k: meta[k] for k in ("model", "preprocess", "split", "weights", "inputs", "outputs") if k in meta}


# ----------------------------------------------------------------------------------------------- INT8

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
                  qdq: str = "conv-inputs", keep_over_budget: bool = False,
                  preprocess: dict[str, Any] | None = None) -> Path:
    """Explicit Q/DQ INT8 graph calibrated on `calib` (name under calib/, manifest path, or loaded manifest).

    `qdq`: "conv-inputs" (TensorRT placement, default) or "conv-io" (also Q/DQ on Conv outputs: fast in
    ONNX Runtime CPU); see the module docstring.

    With `max_dice_drop` (percentage points) and `data`, the Dice drop vs the FP32 graph is measured on the
    held-out validation images exactly as `edgeseg eval` scores, and the most sensitive layers are left in float
    until it is within budget by the one budget rule (`edgeseg.dice_budget.RULE`, the same as `optimize`).
    A budget that cannot be met writes nothing and raises, unless `keep_over_budget` (then the sidecar's
    dice_budget says within_budget: false, kept_over_budget).
    `preprocess`: normalisation given in place of (or over) the recorded one, for an ONNX file from elsewhere.
    """
    from edgeseg.calib import load_calib, model_preprocess

    if method not in METHODS:
        raise EdgesegError(f"unknown calibration method {method!r}; use one of {', '.join(METHODS)}")
    if max_dice_drop is not None:
        from edgeseg.dice_budget import check_max_drop

        check_max_drop(max_dice_drop)
    if (max_dice_drop is None) != (data is None):
        raise EdgesegError("--max-dice-drop and --data go together (the budget is measured on --data images)")
    options = qdq_options(qdq)
    src = Path(onnx_path)
    model = load_onnx_checked(src)
    manifest = calib if isinstance(calib, dict) else load_calib(calib, verify=True)
    shape = graph_input(model.graph, src)[1]
    carried = _carry(src)  # reads the source's sidecar: a damaged one fails before any work
    pre = model_preprocess(src, shape, manifest, preprocess)  # the model's size/normalisation, not the manifest's
    if preprocess:  # given for a foreign ONNX (--mean/--std/--preprocess): recorded, so eval of the INT8 graph runs
        carried["preprocess"] = pre.to_dict()
    batch = shape[0] or 1
    if len(manifest["images"]) < batch:
        raise EdgesegError(f"{manifest['manifest_path']}: {len(manifest['images'])} images, fewer than the "
                           f"model's batch {batch}; make a larger calibration set")
    es = None
    if data is not None:
        from edgeseg import dice_budget

        es = dice_budget.eval_set(data, src, manifest)
    key_in = {"step": "int8", "source_sha256": sha256_file(src), "calib_sha256": manifest["manifest_sha256"],
              "method": method, "options": options, "ops": QUANT_OPS, "max_dice_drop": max_dice_drop,
              "eval": es.sha256 if es else None, "versions": library_versions(),
              "code": code_identity(), "calib_preprocess": pre.to_dict()}
    if qdq != "conv-inputs":  # the default's key (and cached files) stay what they were before layouts existed
        key_in["qdq"] = qdq
    if keep_over_budget:
        key_in["keep_over_budget"] = True
    step = _step("int8", src, key_in, out, "" if qdq == "conv-inputs" else "-convio")
    if step.reused is not None:
        return step.out

    excluded: list[str] = []
    budget: dict[str, Any] | None = None
    with step.writing() as tmp:
        _quantize_static(src, tmp, manifest, batch, method, excluded, None, qdq, pre)
        if es is not None:
            from edgeseg import dice_budget

            def requantize(nodes: list[str], cache: Path, dst: Path) -> None:
                _quantize_static(src, dst, manifest, batch, method, nodes, cache, qdq, pre)

            budget = dice_budget.fit_budget(src, tmp, es, float(max_dice_drop), batch, QUANT_OPS, requantize)
            excluded = budget["excluded_nodes"]
            if not budget["within_budget"]:
                if not keep_over_budget:
                    raise EdgesegError(f"{src}: INT8 Dice drop {budget['drop_pp']:.3f} pp (95% upper bound "
                                       f"{budget['drop_pp_interval']['high']:.3f}) is over --max-dice-drop "
                                       f"{max_dice_drop} with {len(excluded)} layer(s) in float (all but one); "
                                       f"nothing written: raise the budget, use --fp16, or pass "
                                       f"--keep-over-budget to keep this graph")
                budget["kept_over_budget"] = True
        if graph_precision(load_onnx_checked(tmp).graph) != "int8":  # every op in float: not an INT8 graph
            raise EdgesegError(f"{src}: no {'/'.join(QUANT_OPS)} was quantized (none in the graph, or all left in "
                               f"float); nothing written: use the FP32 or --fp16 graph")
    step.finish("onnx-int8-qdq", {
        "precision": "int8",
        "calib": {"manifest": manifest["manifest_path"], "sha256": manifest["manifest_sha256"],
                  "n": len(manifest["images"]), "seed": manifest.get("seed"), "preprocess": pre.to_dict()},
        "method": method, "qdq_layout": qdq,
        "options": {"format": "QDQ", "activation": "QInt8 symmetric", "weight": "QInt8 symmetric",
                    "per_channel": True, "op_types": QUANT_OPS, "extra_options": options},
        "float_nodes": excluded, "dice_budget": budget, **carried}, source=src)
    return step.out
