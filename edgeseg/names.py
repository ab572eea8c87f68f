"""The vocabulary every edgeseg module shares, defined once: tensor names, precisions and their Q/DQ layouts,
backends, TensorRT flavours, devices, sidecar kinds, file suffixes and UNet#'s level names. Import-free (the
runtime, the builders, the bench schema and the claims all read it; none of them may need torch for it).

Precisions. A graph computes in one of GRAPH_PRECISIONS (read from the graph itself by edgeseg.graph); an
engine takes its ONNX graph's. An artifact's precision LABEL (bench rows, optimize candidates, `materialize`)
also names its INT8 Q/DQ layout:
* "int8": Q/DQ on the Conv inputs ("conv-inputs", the TensorRT graph; engines are built from this one);
* "int8-io": Q/DQ on Conv inputs and outputs ("conv-io", which ONNX Runtime CPU fuses to QLinearConv);
* "mixed-int8": the conv-io graph with the Convs not faster in INT8 here left in float (edgeseg.mixed_int8).
"""

from __future__ import annotations

from edgeseg.errors import EdgesegError  # import-free itself

INPUT_NAME = "input"
OUTPUT_NAME = "logits"
# The ONNX opset edgeseg exports: the torch.export-based exporter's own (torchlib's). It reaches 17 only through the
# onnx version converter, which fails on TinyU-Net (no Pad 18->17 adapter) and SD-UNet (ReduceMean axes); issue 21.
DEFAULT_OPSET = 18

GRAPH_PRECISIONS = ("fp32", "fp16", "int8")   # what a strongly typed build of a graph computes in
ENGINE_PRECISIONS = GRAPH_PRECISIONS          # int8-io / mixed-int8 are ONNX Runtime layouts
MIXED_INT8 = "mixed-int8"
PRECISIONS = ("fp32", "fp16", "int8", "int8-io", MIXED_INT8)  # every precision label
INT8_LIKE = ("int8", "int8-io", MIXED_INT8)
QDQ_LAYOUTS = ("conv-inputs", "conv-io")
QDQ_LAYOUT = {"int8": "conv-inputs", "int8-io": "conv-io", MIXED_INT8: "conv-io"}  # label -> its graph's layout

FLAVOURS = ("tensorrt", "tensorrt-rtx")
BACKENDS = ("pytorch", "onnxruntime", *FLAVOURS)
DEVICES = ("cpu", "cuda")

# ONNX sidecar kind -> the precision its graph computes in (a mixed-INT8 sidecar records its label itself)
ONNX_KINDS = {"onnx": "fp32", "onnx-fp16": "fp16", "onnx-int8-qdq": "int8"}

CHECKPOINT_SUFFIXES = (".pt", ".pth", ".ckpt")
ONNX_SUFFIXES = (".onnx",)
ENGINE_SUFFIXES = (".engine", ".plan", ".trt")


def precision_label(graph_precision: str, qdq_layout: str | None = None, recorded: str | None = None) -> str:
    """The label of an ONNX graph from what it computes in and what its sidecar records: "mixed-int8" when the
    sidecar says so, "int8-io" for an INT8 graph in the conv-io layout, else the graph's own precision."""
    if graph_precision != "int8":
        return graph_precision
    if recorded == MIXED_INT8:
        return MIXED_INT8
    return "int8-io" if qdq_layout == "conv-io" else "int8"


# UNet#'s pruning levels (edgeseg.models.unetsharp). The full network is registered as `unetsharp` (level 4: what the
# campaign trains, with option `level`); each level is also a registered variant `unetsharp_l<k>`. Tables, bench
# rows, campaign results and claims name a level `unetsharp-l<k>` ('-', not the registry's '_').
UNETSHARP = "unetsharp"
UNETSHARP_LEVELS = (1, 2, 3, 4)
FULL_LEVEL = 4


def check_level(level: int) -> int:
    """`level` when it is a UNet# level, else the one-line error naming it."""
    if not isinstance(level, int) or isinstance(level, bool) or level not in UNETSHARP_LEVELS:
        raise EdgesegError(f"UNet# level must be one of {', '.join(map(str, UNETSHARP_LEVELS))}, got {level!r}; "
                           "pass 1..4")
    return level


def level_name(level: int) -> str:
    """The table / campaign name of a UNet# level: 2 -> "unetsharp-l2"."""
    return f"{UNETSHARP}-l{check_level(level)}"


def level_model(level: int) -> str:
    """The registry name of a UNet# level's variant: 2 -> "unetsharp_l2"."""
    return f"{UNETSHARP}_l{check_level(level)}"


_LEVEL_OF = {**{level_name(k): k for k in UNETSHARP_LEVELS}, **{level_model(k): k for k in UNETSHARP_LEVELS}}


def level_of(name: str) -> int | None:
    """The inverse of level_name and level_model: "unetsharp-l2" or "unetsharp_l2" -> 2; None for any other
    name (the full network's "unetsharp" included: a name says its level only when it is a level name)."""
    return _LEVEL_OF.get(name)
