"""What an ONNX file says about itself, read once here: its input's name and shape, and the precision a
strongly typed TensorRT build of it computes in. onnx is imported lazily; weights are not loaded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edgeseg.errors import EdgesegError


def read_graph(path: str | Path) -> Any:
    """The GraphProto of an ONNX file (external weights not loaded), or a one-line error naming the file."""
    import onnx

    path = Path(path)
    if not path.is_file():
        raise EdgesegError(f"{path}: no such ONNX file; create it with edgeseg export")
    try:
        return onnx.load(str(path), load_external_data=False).graph
    except Exception as e:  # noqa: BLE001 - protobuf DecodeError on a truncated/foreign file, etc.
        raise EdgesegError(f"{path}: not a valid ONNX file ({type(e).__name__}); re-export it with "
                           f"edgeseg export") from None


def graph_precision(g: Any) -> str:
    """int8 (Q/DQ nodes), fp16 (FP16 initialisers or a Cast to FP16), else fp32."""
    import onnx

    if any(n.op_type in ("QuantizeLinear", "DequantizeLinear") for n in g.node):
        return "int8"
    fp16 = onnx.TensorProto.FLOAT16
    if any(t.data_type == fp16 for t in g.initializer) or any(
            n.op_type == "Cast" and any(a.name == "to" and a.i == fp16 for a in n.attribute) for n in g.node):
        return "fp16"
    return "fp32"


def onnx_precision(path: str | Path) -> str:
    """What a strongly typed build of this graph computes in: "int8", "fp16" or "fp32" (from the graph)."""
    return graph_precision(read_graph(path))


def graph_input(g: Any, where: str | Path) -> tuple[str, list[int | None]]:
    """(name, dims with None for dynamic axes) of a graph's one input."""
    if len(g.input) != 1:
        raise EdgesegError(f"{where}: expected one input tensor, found {len(g.input)}; export with edgeseg export")
    dims = [d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None
            for d in g.input[0].type.tensor_type.shape.dim]
    return g.input[0].name, dims


def onnx_input(path: str | Path) -> tuple[str, list[int | None]]:
    """(input name, N x C x H x W dims, None = dynamic) of an ONNX file."""
    return graph_input(read_graph(path), path)
