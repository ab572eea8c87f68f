"""Exact export-time rewrites: the same function as the trained PyTorch module, in a graph ONNX Runtime runs faster.

Applied by `edgeseg.export.export_onnx` to a copy of the network before tracing (the export check still
compares ONNX Runtime against the *unrewritten* module), recorded in the ONNX sidecar under "rewrites".
Every rewrite here is exact in real arithmetic (only float32 rounding order changes; each is tested equal to
the module to <= 1e-5 of the output range). None approximates: an approximation would need its own flag.

Rewrites (names are what `--rewrites` takes and the sidecar records):

* "bicubic" (TinyU-Net, upsample="conv"): bicubic x2 (align_corners=False, a=-0.75, edge clamp) is, per axis,
  a stride-2 transposed convolution with the symmetric 8-tap kernel g = [W(1.75), W(1.25), W(0.75), W(0.25),
  W(0.25), W(0.75), W(1.25), W(1.75)]. A symmetric even-length kernel has a root at z = -1, so g = [1, 1] * h
  with a 7-tap h, and [1, 1] * (.) after zero insertion is nearest x2. Forms (`BICUBIC_FORMS`):
  - "nearest-pad-conv" (the default): nearest x2, replicate-pad 3 at full resolution (clamping commutes with
    nearest x2), depthwise 1x7 then 7x1 with h: no crop, no Slice;
  - "pad-nearest-conv" (the issue's form): replicate-pad 3, nearest x2, 1x7 / 7x1, crop 3 (a Slice);
  - "convtranspose": replicate-pad 2, depthwise ConvTranspose (8x1, stride 2) then (1x8, stride 2) with g,
    the crop folded into the ConvTranspose pads (7).
  The module it replaces (`tinyunet.BicubicUpsample2x`) ends in a pixel shuffle (ONNX DepthToSpace), which
  ONNX Runtime CPU runs slowly and outside its blocked (NCHWc) layout.
* "cmrf-split" (TinyU-Net): CMRF's strided channel split `y[:, 0::2], y[:, 1::2]` of its first pointwise conv
  becomes two convs (the weight rows 0::2 and 1::2, BatchNorm folded), so no Slice breaks ONNX Runtime's NCHWc
  layout and the Concat that follows can stay blocked where each piece is a multiple of 8 channels.
  "cmrf-pad8" additionally zero-pads each cascade piece to a multiple of 8 channels (zero weights and bias in,
  zero columns out: still exact) so the Concat stays blocked in the 64-channel CMRFs too, at the cost of
  twice the MACs of those CMRFs' second pointwise conv. Not in the default: measure it (`edgeseg optimize`).
* "groupnorm-lean" (SD-UNet, after `fold_for_export`): the short-reduction GroupNorm statistics that pass the
  export check, with the variance's division by the row count folded into the affine weight (14 ops, was 15).
  GroupNorm cannot stay in ONNX Runtime's blocked layout at all (Sub and broadcasting Mul/Add are not NCHWc
  ops), so each GroupNorm costs one reorder pair whatever its form; a per-(sample, channel) scale/shift form
  (fewer full-size passes) needs Reshape/Expand and came out at 20 ops.

`reorder_report(onnx_path)` counts ONNX Runtime's layout reorders in its optimized graph (the measure the
rewrites target: counts, not time).
"""

from __future__ import annotations

import copy
from collections import Counter
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from edgeseg.errors import EdgesegError

REWRITES = ("bicubic", "cmrf-split", "cmrf-pad8", "groupnorm-lean")
DEFAULT_REWRITES = ("bicubic", "cmrf-split", "groupnorm-lean")
BICUBIC_FORMS = ("nearest-pad-conv", "pad-nearest-conv", "convtranspose")
# Fewest NCHWc reorders in ORT 1.32 (nearest x2 stays blocked; only the Pad leaves the layout). Time it.
DEFAULT_BICUBIC_FORM = "nearest-pad-conv"
REWRITES_VERSION = 1  # bump when a rewrite's graph changes (part of the export cache key)
NCHWC_BLOCK = 8  # "cmrf-pad8" pads to 8: ORT's NCHWc block on AVX2; on AVX-512 it is 16 (nchwc_block_size())


# ----------------------------------------------------------------------------------------- bicubic x2

def bicubic_transposed_kernel() -> torch.Tensor:
    """g (8 taps, float64): bicubic x2 (align_corners=False, a=-0.75) as a stride-2 transposed conv, per axis."""
    from edgeseg.models.tinyunet import _cubic_weights

    w0, w1 = _cubic_weights(0.75), _cubic_weights(0.25)  # phase 0 taps i-2..i+1, phase 1 taps i-1..i+2
    return torch.tensor([w1[3], w0[3], w1[2], w0[2], w1[1], w0[1], w1[0], w0[0]], dtype=torch.float64)


def bicubic_nearest_kernel() -> torch.Tensor:
    """h (7 taps, float64) with g = [1, 1] * h: polynomial division of g by (1 + z), exact (g(-1) = 0)."""
    g = bicubic_transposed_kernel()
    h = torch.zeros(7, dtype=torch.float64)
    acc = 0.0
    for k in range(7):  # h[k] = g[k] - h[k-1]
        acc = float(g[k]) - acc
        h[k] = acc
    if abs(float(g[7]) - acc) > 1e-12:  # the remainder: g[7] must equal h[6]
        raise AssertionError("bicubic kernel has no root at -1")
    return h


class BicubicUpsample2xFast(nn.Module):
    """`F.interpolate(x, scale_factor=2, mode="bicubic", align_corners=False)` without DepthToSpace (see module doc)."""

    def __init__(self, channels: int, form: str = DEFAULT_BICUBIC_FORM) -> None:
        super().__init__()
        if form not in BICUBIC_FORMS:
            raise EdgesegError(f"bicubic form {form!r}; use one of {', '.join(BICUBIC_FORMS)}")
        self.channels, self.form = channels, form
        k = (bicubic_transposed_kernel() if form == "convtranspose" else bicubic_nearest_kernel()).float()
        n = k.numel()
        self.register_buffer("kv", k.view(1, 1, n, 1).repeat(channels, 1, 1, 1), persistent=False)
        self.register_buffer("kh", k.view(1, 1, 1, n).repeat(channels, 1, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = self.channels
        if self.form == "convtranspose":
            x = F.pad(x, (2, 2, 2, 2), mode="replicate")
            x = F.conv_transpose2d(x, self.kv, stride=(2, 1), padding=(7, 0), groups=c)
            return F.conv_transpose2d(x, self.kh, stride=(1, 2), padding=(0, 7), groups=c)
        if self.form == "pad-nearest-conv":
            x = F.interpolate(F.pad(x, (3, 3, 3, 3), mode="replicate"), scale_factor=2, mode="nearest")
        else:  # nearest-pad-conv: clamping commutes with nearest x2, so pad after (3 at full resolution)
            x = F.pad(F.interpolate(x, scale_factor=2, mode="nearest"), (3, 3, 3, 3), mode="replicate")
        x = F.conv2d(F.conv2d(x, self.kh, groups=c), self.kv, groups=c)
        return x[:, :, 3:-3, 3:-3] if self.form == "pad-nearest-conv" else x


# ----------------------------------------------------------------------------------------- TinyU-Net CMRF

def _fold_conv_bn(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    """(weight, bias) of conv followed by eval-mode BatchNorm, computed in float64."""
    w = conv.weight.detach().double()
    b = conv.bias.detach().double() if conv.bias is not None else torch.zeros(w.shape[0], dtype=torch.float64)
    scale = bn.weight.detach().double() / torch.sqrt(bn.running_var.detach().double() + bn.eps)
    return w * scale.view(-1, 1, 1, 1), (b - bn.running_mean.detach().double()) * scale + bn.bias.detach().double()


def _conv(w: torch.Tensor, b: torch.Tensor, groups: int = 1) -> nn.Conv2d:
    k = w.shape[-1]
    m = nn.Conv2d(w.shape[1] * groups, w.shape[0], k, padding=k // 2, groups=groups, bias=True)
    with torch.no_grad():
        m.weight.copy_(w.float())
        m.bias.copy_(b.float())
    return m


def _ceil(c: int, block: int) -> int:
    return -(-c // block) * block


class GeluErf(nn.Module):
    """Exact GELU written as (0.5 * x) * (1 + erf(x / sqrt 2)): ONNX Runtime fuses this order into one Gelu op
    even where a Conv follows. nn.GELU exports as (x * (1 + erf)) * 0.5, and onnxsim folds that trailing
    * 0.5 into a following Conv's weights (TinyU-Net's head), leaving an unfused Div/Erf/Add/Mul chain that
    ONNX Runtime runs outside its blocked layout (2 reorders at full resolution)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x * 0.5) * (1.0 + torch.erf(x / 1.4142135623730951))


class CMRFSplit(nn.Module):
    """A `tinyunet.CMRF` (eval mode, BatchNorm folded) with the channel split done by two convs (module doc)."""

    def __init__(self, cmrf: nn.Module, pad_to: int | None = None) -> None:
        super().__init__()
        if not isinstance(cmrf.pwconv1.act, nn.GELU) or isinstance(cmrf.m[0].act, nn.GELU):
            raise EdgesegError("cmrf-split: unexpected CMRF layout (activations)")
        self.add = cmrf.add
        w1, b1 = _fold_conv_bn(cmrf.pwconv1.conv, cmrf.pwconv1.bn)
        c = w1.shape[0] // 2
        cp = _ceil(c, pad_to) if pad_to else c

        def rows(w: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            wp = torch.zeros((cp, *w.shape[1:]), dtype=w.dtype)
            bp = torch.zeros(cp, dtype=b.dtype)
            wp[: w.shape[0]], bp[: b.shape[0]] = w, b
            return wp, bp

        self.odd = _conv(*rows(w1[0::2], b1[0::2]))
        self.even = _conv(*rows(w1[1::2], b1[1::2]))
        self.m = nn.ModuleList(_conv(*rows(*_fold_conv_bn(u.conv, u.bn)), groups=cp) for u in cmrf.m)
        w2, b2 = _fold_conv_bn(cmrf.pwconv2.conv, cmrf.pwconv2.bn)
        n = len(cmrf.m) + 1
        w2p = torch.zeros((w2.shape[0], n * cp, 1, 1), dtype=w2.dtype)
        for j in range(n):  # piece j's c real input channels -> columns j*cp .. j*cp + c
            w2p[:, j * cp: j * cp + c] = w2[:, j * c: (j + 1) * c]
        self.pw2 = _conv(w2p, b2)
        self.act = GeluErf()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        odd, even = self.act(self.odd(x)), self.act(self.even(x))
        outs = [odd + even]
        last = even
        for m in self.m:
            last = m(last)
            outs.append(last)
        y = self.act(self.pw2(torch.cat(outs, dim=1)))
        return x + y if self.add else y


# ----------------------------------------------------------------------------------------- SD-UNet GroupNorm

class LeanGroupNorm(nn.Module):
    """GroupNorm with `sdunet.ExportGroupNorm`'s short reductions, in 14 ONNX ops instead of 15.

    std = sqrt(S / R + eps) = sqrt(S + eps R) / sqrt(R) (S: sum of the row means of d^2, R rows), so
    (d / std) * gamma = d / sqrt(S + eps R) * (gamma sqrt(R)): the division by R of the variance disappears
    into the (constant) affine weight. Same statistics, same reduction lengths, so it passes the same check.
    """

    def __init__(self, gn: nn.GroupNorm) -> None:
        super().__init__()
        self.num_groups, self.eps = gn.num_groups, gn.eps
        c = gn.num_channels
        self.register_buffer("weight", (gn.weight.detach() if gn.affine else torch.ones(c)).clone())
        self.register_buffer("bias", (gn.bias.detach() if gn.affine else torch.zeros(c)).clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        g = x.reshape(n, self.num_groups, -1, w)  # (N, G, R, W)
        rows = g.shape[-2]
        mean = g.mean(-1, keepdim=True).sum(-2, keepdim=True) / rows  # two reduce ops: see ExportGroupNorm
        d = g - mean
        s = (d * d).mean(-1, keepdim=True).sum(-2, keepdim=True)
        y = (d / torch.sqrt(s + self.eps * rows)).reshape(n, c, h, w)
        return y * (self.weight * rows ** 0.5).view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)


# ----------------------------------------------------------------------------------------- applying them

def parse_rewrites(spec: str | tuple[str, ...] | list[str] | None) -> tuple[tuple[str, ...], str]:
    """'default' | 'none' | comma list (optionally 'bicubic=FORM') -> (names, bicubic form)."""
    if spec is None or spec == "default":
        return DEFAULT_REWRITES, DEFAULT_BICUBIC_FORM
    items = [s.strip() for s in (spec.split(",") if isinstance(spec, str) else spec) if s.strip()]
    if items in (["none"], []):
        return (), DEFAULT_BICUBIC_FORM
    names, form = [], DEFAULT_BICUBIC_FORM
    for it in items:
        name, _, arg = it.partition("=")
        if name not in REWRITES or (arg and name != "bicubic"):
            raise EdgesegError(f"--rewrites: unknown rewrite {it!r}; use 'default', 'none' or a comma list of "
                               f"{', '.join(REWRITES)} (bicubic=FORM with FORM one of {', '.join(BICUBIC_FORMS)})")
        if arg:
            if arg not in BICUBIC_FORMS:
                raise EdgesegError(f"--rewrites: bicubic form {arg!r}; use one of {', '.join(BICUBIC_FORMS)}")
            form = arg
        names.append(name)
    if "cmrf-split" in names and "cmrf-pad8" in names:
        names.remove("cmrf-split")  # pad8 is split + padding
    return tuple(dict.fromkeys(names)), form


def _replace(model: nn.Module, match: Any, make: Any) -> int:
    n = 0
    for name, child in list(model.named_children()):
        if match(child):
            setattr(model, name, make(child))
            n += 1
        else:
            n += _replace(child, match, make)
    return n


def apply_rewrites(model: nn.Module, spec: str | tuple[str, ...] | list[str] | None = "default"
                   ) -> tuple[nn.Module, list[dict[str, Any]]]:
    """A rewritten deep copy of an eval-mode `model` (folded for export already) and what was applied:
    [{"rewrite", "form"?, "modules"}], only rewrites that matched at least one module."""
    from edgeseg.models.sdunet import ExportGroupNorm
    from edgeseg.models.tinyunet import CMRF, BicubicUpsample2x

    names, form = parse_rewrites(spec)
    if not names:
        return model, []
    model = copy.deepcopy(model).eval()
    done: list[dict[str, Any]] = []
    if "bicubic" in names:
        k = _replace(model, lambda m: isinstance(m, BicubicUpsample2x),
                     lambda m: BicubicUpsample2xFast(m.channels, form))
        if k:
            done.append({"rewrite": "bicubic", "form": form, "modules": k})
    for name, pad in (("cmrf-split", None), ("cmrf-pad8", NCHWC_BLOCK)):
        if name in names:
            k = _replace(model, lambda m: isinstance(m, CMRF), lambda m, p=pad: CMRFSplit(m, p))
            if k:
                done.append({"rewrite": name, "modules": k})
    if "groupnorm-lean" in names:
        k = _replace(model, lambda m: isinstance(m, ExportGroupNorm) and m.short_reductions, LeanGroupNorm)
        if k:
            done.append({"rewrite": "groupnorm-lean", "modules": k})
    return model.eval(), done


# ----------------------------------------------------------------------------------------- measuring them

def optimized_graph(onnx_path: str | Path, out: str | Path, threads: int = 1) -> Path:
    """Write ONNX Runtime's ORT_ENABLE_ALL optimized graph (NCHWc ops included) of `onnx_path` to `out`."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.optimized_model_filepath = str(out)
    so.intra_op_num_threads = threads
    so.log_severity_level = 3  # the "hardware specific" serialisation warning is expected here
    ort.InferenceSession(str(onnx_path), so, providers=["CPUExecutionProvider"])
    return Path(out)


def nchwc_block_size() -> int:
    """ONNX Runtime's NCHWc channel block on this CPU (8 with AVX2, 16 with AVX-512; 0 = no blocked layout),
    read from how far it pads a 40-channel conv's weights in its optimized graph (ORT exposes no API for it)."""
    import tempfile

    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    c = 40  # padded to 40 by a block of 8, 48 by 16, 64 by 32
    w = numpy_helper.from_array(np.ones((c, c, 3, 3), np.float32), "w")
    g = helper.make_graph([helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1])], "probe",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, c, 8, 8])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, c, 8, 8])], [w])
    with tempfile.TemporaryDirectory() as td:
        onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], ir_version=9), f"{td}/p.onnx")
        opt = onnx.load(str(optimized_graph(f"{td}/p.onnx", f"{td}/o.onnx"))).graph
    if not any(n.domain.endswith("nchwc") for n in opt.node):
        return 0
    padded = max(int(i.dims[0]) for i in opt.initializer if len(i.dims) == 4)
    return next(b for b in (8, 16, 32, 64) if _ceil(c, b) == padded)


def _op(n: Any) -> str:
    return n.op_type + (f"@{n.domain.split('.')[-1]}" if n.domain else "")


def reorder_report(onnx_path: str | Path, threads: int = 1) -> dict[str, Any]:
    """Op counts of ONNX Runtime's optimized graph, and which ops force its NCHWc reorders.

    -> {"ops": {op: n}, "reorders": n, "reorder_output_to": {consumer op: n}, "reorder_input_from":
    {producer op: n}}. ops are "Type@nchwc" for blocked-layout kernels, "Type@microsoft" for contrib ops.
    """
    import tempfile

    import onnx

    with tempfile.TemporaryDirectory() as td:
        g = onnx.load(str(optimized_graph(onnx_path, Path(td) / "opt.onnx", threads))).graph
    prod = {o: n for n in g.node for o in n.output}
    to, frm = Counter(), Counter()
    for n in g.node:
        if n.op_type == "ReorderOutput":
            for u in g.node:
                if n.output[0] in u.input:
                    to[_op(u)] += 1
            if any(o.name == n.output[0] for o in g.output):
                to["graph-output"] += 1
        elif n.op_type == "ReorderInput":
            src = prod.get(n.input[0])
            frm[_op(src) if src is not None else "graph-input"] += 1
    ops = Counter(_op(n) for n in g.node)
    return {"ops": dict(ops.most_common()), "reorders": ops["ReorderOutput@nchwc"] + ops["ReorderInput@nchwc"],
            "reorder_output_to": dict(to.most_common()), "reorder_input_from": dict(frm.most_common())}
