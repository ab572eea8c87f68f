"""FLOPs and bytes moved per node of an ONNX graph, from its (inferred) shapes and element types alone.

Conventions (the hand-checked test in tests/test_profile.py pins them):
* FLOPs: a multiply-add is 2; a bias add is 1 per output element. Conv: 2 N Cout Ho Wo (Cin/g) kh kw (+ bias);
  ConvTranspose: 2 N Cin H W (Cout/g) kh kw (+ bias); MatMul/Gemm: 2 M K N per batch (+ bias). Element-wise ops
  (Relu, Add, Erf, Gelu, ...) 1 per output element, reductions 1 per input element, pools 1 per window tap,
  normalizations 2 per element (scale and shift; statistics reuse the pass). Data movement (Concat, Pad,
  Slice, Transpose, Resize, ...) 0 FLOPs.
* Bytes: every input read once (weights = constant inputs, counted apart) plus every output written once, at
  the tensor's element size (float32 4, float16 2, int8/uint8 1). Reshape/Flatten/Squeeze/Unsqueeze/Identity
  are views: 0 bytes. No caches: this is compulsory traffic per op, the roofline's memory term.
* Constant subgraphs (all inputs constant: Constant, DequantizeLinear of a weight, ...) cost nothing; their
  outputs are weights stored at their source's size (an INT8 weight is 1 byte per element where it is used).
* Q/DQ graphs, read as a runtime fuses them (ONNX Runtime's QLinearConv, TensorRT's INT8 layers): a
  DequantizeLinear of an activation is free and its consumer reads the int8 tensor; a QuantizeLinear that is
  the only consumer of its producer is free and the producer writes int8. Ops that read a dequantized tensor
  compute in "int8" (bounded by the INT8 ceiling); all others in "float".
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from math import prod
from pathlib import Path
from typing import Any

ELEM_BYTES = {1: 4, 2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8, 12: 4, 13: 8, 16: 2}  # TensorProto
VIEWS = {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Dropout"}
FREE = {"Shape", "Constant", "ConstantOfShape", "Size"}
MOVES = {"Concat", "Pad", "Slice", "Transpose", "Split", "Expand", "Gather", "Tile", "DepthToSpace",
         "SpaceToDepth", "Resize", "Upsample", "Cast"}
NORMS = {"BatchNormalization", "InstanceNormalization", "LayerNormalization", "GroupNormalization"}
REDUCE = {"ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceSumSquare",
          "GlobalAveragePool", "GlobalMaxPool", "ArgMax", "ArgMin", "Softmax", "LogSoftmax"}
COMPUTE = {"Conv", "ConvTranspose", "MatMul", "Gemm"}


@dataclass
class OpCost:
    """One node's compulsory work. elems_* count data elements (for re-pricing at another precision)."""

    name: str
    op_type: str
    flops: float = 0.0
    bytes_in: float = 0.0
    bytes_weights: float = 0.0
    bytes_out: float = 0.0
    elems_in: float = 0.0
    elems_weights: float = 0.0
    elems_out: float = 0.0
    compute: str = "float"
    outputs: list[str] = field(default_factory=list)

    @property
    def bytes(self) -> float:
        return self.bytes_in + self.bytes_weights + self.bytes_out

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "bytes": self.bytes}


@dataclass
class GraphCost:
    ops: list[OpCost]
    input_bytes: float
    output_bytes: float
    weight_bytes: float
    consumers: dict[str, list[str]]  # tensor -> consuming node names (all nodes, free ones included)
    producer: dict[str, str]  # tensor -> producing node name
    skipped: list[str]  # constant-folded or free nodes (no cost)
    node_outputs: dict[str, list[str]] = field(default_factory=dict)  # every node (free ones too) -> outputs

    @property
    def flops(self) -> float:
        return sum(o.flops for o in self.ops)

    @property
    def bytes(self) -> float:
        return sum(o.bytes for o in self.ops)


def _attr(node: Any, name: str, default: Any) -> Any:
    from onnx import helper

    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return default


def _flops(node: Any, ins: list[tuple[int, ...] | None], outs: list[tuple[int, ...] | None]) -> float:
    op, o = node.op_type, outs[0] if outs else None
    n_out = prod(o) if o else 0
    n_in = prod(ins[0]) if ins and ins[0] else 0
    has_bias = len(ins) > 2 and ins[2] is not None and node.input[2] != ""
    if op == "Conv" or (op == "QLinearConv" and len(ins) > 3):
        w = ins[1] if op == "Conv" else ins[3]
        return 2.0 * n_out * prod(w[1:]) + (n_out if has_bias else 0)
    if op == "ConvTranspose":
        return 2.0 * n_in * prod(ins[1][1:]) + (n_out if has_bias else 0)  # W: (Cin, Cout/g, kh, kw)
    if op in ("MatMul", "MatMulInteger", "Gemm"):
        a = ins[0]
        k = a[-1] if not (op == "Gemm" and _attr(node, "transA", 0)) else a[-2]
        return 2.0 * n_out * k + (n_out if op == "Gemm" and has_bias else 0)
    if op in ("MaxPool", "AveragePool", "LpPool"):
        return float(n_out * prod(_attr(node, "kernel_shape", [1])))
    if op in REDUCE:
        return float(n_in)
    if op in NORMS:
        return 2.0 * n_in
    if op in MOVES or op in VIEWS or op in FREE or op in ("QuantizeLinear", "DequantizeLinear"):
        return float(n_out) if op in ("QuantizeLinear", "DequantizeLinear") else 0.0
    return float(n_out)  # element-wise


def graph_costs(model_or_path: Any) -> GraphCost:
    """Per-node costs of an ONNX model (path or ModelProto), shapes from onnx shape inference."""
    import onnx

    model = onnx.load(str(model_or_path)) if isinstance(model_or_path, (str, Path)) else model_or_path
    model = onnx.shape_inference.infer_shapes(model)
    g = model.graph
    info: dict[str, tuple[tuple[int, ...] | None, int]] = {}
    for vi in list(g.input) + list(g.value_info) + list(g.output):
        t = vi.type.tensor_type
        dims = tuple(d.dim_value if d.HasField("dim_value") else 1 for d in t.shape.dim) if t.HasField("shape") \
            else None
        info[vi.name] = (dims, t.elem_type)
    for init in g.initializer:
        info[init.name] = (tuple(init.dims), init.data_type)
    const = {i.name for i in g.initializer}
    stored: dict[str, float] = {i.name: prod(i.dims) * ELEM_BYTES.get(i.data_type, 4) for i in g.initializer}
    producer = {o: n.name for n in g.node for o in n.output}
    consumers: dict[str, list[str]] = {}
    for n in g.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n.name)
    by_name = {n.name: n for n in g.node}
    int8_view: dict[str, int] = {}  # activation tensor (a DQ output) -> the int8 tensor's element size
    dq_out: set[str] = set()
    ops: list[OpCost] = []
    skipped: list[str] = []

    def elems(t: str) -> float:
        d = info.get(t, (None, 1))[0]
        return float(prod(d)) if d is not None else 0.0

    def size(t: str) -> int:
        return int_size.get(t) or int8_view.get(t) or ELEM_BYTES.get(info.get(t, (None, 1))[1], 4)

    int_size: dict[str, int] = {}  # producer outputs written as int8 because a sole Q consumer is fused in
    for n in g.node:  # topological in a valid ONNX graph
        ins = [i for i in n.input if i]
        if n.op_type in FREE or all(i in const for i in ins):
            for o in n.output:
                const.add(o)
                src = info.get(ins[0], (None, 1))[1] if ins else info.get(o, (None, 1))[1]
                stored[o] = elems(o) * ELEM_BYTES.get(src, 4)  # a DQ'd INT8 weight stays 1 byte per element
            skipped.append(n.name)
            continue
        if n.op_type == "DequantizeLinear":
            int8_view[n.output[0]] = ELEM_BYTES.get(info.get(n.input[0], (None, 3))[1], 1)
            dq_out.add(n.output[0])
            skipped.append(n.name)
            continue
        if n.op_type == "QuantizeLinear":
            src = producer.get(n.input[0])
            if src is not None and consumers.get(n.input[0]) == [n.name] and by_name[src].op_type not in \
                    ("DequantizeLinear", "QuantizeLinear"):
                skipped.append(n.name)  # folded into its producer (which writes int8), below
                continue
        c = OpCost(n.name, n.op_type, outputs=list(n.output))
        in_shapes = [info.get(i, (None, 1))[0] if i else None for i in n.input]
        out_shapes = [info.get(o, (None, 1))[0] for o in n.output]
        c.flops = _flops(n, in_shapes, out_shapes)
        if n.op_type not in VIEWS:
            for i in ins:
                if i in const:
                    c.bytes_weights += stored.get(i, 0.0)
                    c.elems_weights += elems(i)
                else:
                    c.bytes_in += elems(i) * size(i)
                    c.elems_in += elems(i)
            for o in n.output:
                q = [by_name[u] for u in consumers.get(o, [])]
                if len(q) == 1 and q[0].op_type == "QuantizeLinear":
                    int_size[o] = ELEM_BYTES.get(info.get(q[0].output[0], (None, 3))[1], 1)
                    int8_view[q[0].output[0]] = int_size[o]
                    producer[q[0].output[0]] = n.name
                c.bytes_out += elems(o) * size(o)
                c.elems_out += elems(o)
        if n.op_type in COMPUTE and any(i in dq_out for i in ins[:1]):
            c.compute = "int8"
        ops.append(c)
    in_bytes = sum(elems(i.name) * size(i.name) for i in g.input if i.name not in const)
    out_bytes = sum(elems(o.name) * ELEM_BYTES.get(info.get(o.name, (None, 1))[1], 4) for o in g.output)
    w_bytes = sum(stored.get(i.name, 0.0) for i in g.initializer)
    return GraphCost(ops, float(in_bytes), float(out_bytes), float(w_bytes), consumers, producer, skipped,
                     {n.name: list(n.output) for n in g.node})
