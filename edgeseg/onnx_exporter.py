"""Which torch.onnx exporter each network is exported with, and calling it (issue 21).

The torch.export-based exporter (`torch.onnx.export(dynamo=True)`, needs onnxscript) for every network, except
those in `TORCHSCRIPT_KEPT`, each kept on the TorchScript exporter (deprecated since PyTorch 2.9)
for the measured reason given there. The measurement: `benchmarks/exporter_compare.py`
(benchmarks/results/exporter/). `edgeseg.export` records the exporter and its reason in the ONNX sidecar and
puts the exporter in the artifact's cache key.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from edgeseg.errors import EdgesegError
from edgeseg.names import INPUT_NAME, OUTPUT_NAME

EXPORTERS = ("dynamo", "torchscript")
# network -> the measured reason it stays on the TorchScript exporter; every other network uses dynamo. Empty:
# measured on all 9 networks and every rewrite variant, none has such a reason (DYNAMO_REASON). The TorchScript
# path stays for `--exporter torchscript` (the sidecar says "asked for") and as the measurement's baseline.
TORCHSCRIPT_KEPT: dict[str, str] = {}
DYNAMO_REASON = ("measured equal to PyTorch (the same max |ORT - PyTorch| as the TorchScript graph) and no slower "
                 "under ONNX Runtime: p50 0.84-1.00x the TorchScript graph's, interleaved, every network and "
                 "rewrite variant, the rows above 1.03 retimed (benchmarks/results/exporter/, issue 21)")


def exporter_for(name: str, asked: str | None = None) -> tuple[str, str]:
    """-> (exporter, why) for network `name`: `asked` when given, else the measured choice (module doc)."""
    if asked is not None:
        if asked not in EXPORTERS:
            raise EdgesegError(f"--exporter {asked!r}; use one of {', '.join(EXPORTERS)}")
        return asked, "asked for (--exporter)"
    if name in TORCHSCRIPT_KEPT:
        return "torchscript", TORCHSCRIPT_KEPT[name]
    return "dynamo", DYNAMO_REASON


def _translations() -> dict[Any, Any]:
    """The dynamo exporter's op translations that differ from torchlib's, each exact (same maths, same ops):

    aten.gelu (erf): (x * 0.5) * (1 + erf(x / sqrt 2)), the order ONNX Runtime fuses into one Gelu kernel
    (`edgeseg.rewrites.GeluErf`). torchlib's x * (0.5 * (1 + erf(x / sqrt 2))) stays five unfused ops that ORT
    runs outside its blocked layout: U-Lite at 256x256 had 166 ORT nodes and 36 NCHWc reorders, against 89 and 5
    for the TorchScript graph (issue 21)."""
    import onnx_ir as ir
    from onnxscript import opset18 as op

    def gelu(self: Any, approximate: str = "none") -> Any:
        if approximate == "tanh":  # torchlib's form: no network here uses it
            inner = op.Add(self, op.Mul(ir.tensor(0.044715, dtype=self.dtype),
                                        op.Pow(self, ir.tensor(3, dtype=self.dtype))))
            t = op.Tanh(op.Mul(ir.tensor(0.7978845608028654, dtype=self.dtype), inner))
            return op.Mul(op.Mul(self, ir.tensor(0.5, dtype=self.dtype)), op.Add(t, ir.tensor(1, dtype=self.dtype)))
        erf = op.Erf(op.Div(self, ir.tensor(1.4142135623730951, dtype=self.dtype)))
        return op.Mul(op.Mul(self, ir.tensor(0.5, dtype=self.dtype)), op.Add(erf, ir.tensor(1, dtype=self.dtype)))

    return {torch.ops.aten.gelu.default: gelu}


def to_onnx(model: nn.Module, x: np.ndarray, path: Path, opset: int, dynamic: bool, exporter: str) -> list[str]:
    """Export `model` on the example batch `x` to `path` with `exporter`; -> its warnings (first lines, unique).

    dynamo: torch.export traces the module (0/1-specialisation: a dynamic batch needs an example of 2, which
    `x` is then); the weights are saved inside the file (external_data=False), like the TorchScript exporter's.
    """
    import onnx

    caught: list[str] = []

    class _Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            exc = record.exc_info[1] if record.exc_info else None
            why = f" ({type(exc).__name__}: {str(exc).strip().splitlines()[-1][-240:]})" if exc else ""
            caught.append(f"{record.name}: {record.getMessage().strip().splitlines()[0][:300]}{why}")

    keep, logs = _Keep(logging.WARNING), [logging.getLogger(n) for n in ("torch.onnx", "onnxscript")]
    for log in logs:
        log.addHandler(keep)
    try:
        with torch.no_grad(), warnings.catch_warnings(record=True) as ws:
            warnings.simplefilter("always")
            if exporter == "dynamo":
                prog = torch.onnx.export(model, (torch.from_numpy(x),), dynamo=True, input_names=[INPUT_NAME],
                                         output_names=[OUTPUT_NAME], opset_version=opset, verbose=False,
                                         dynamic_shapes=({0: "batch"},) if dynamic else None,
                                         custom_translation_table=_translations())
                onnx.save(prog.model_proto, str(path))
            else:  # only networks with a measured reason (TORCHSCRIPT_KEPT) or `exporter=` asked for it
                axes = {INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}} if dynamic else None
                torch.onnx.export(model, (torch.from_numpy(x[:1] if dynamic else x),), str(path),
                                  input_names=[INPUT_NAME], output_names=[OUTPUT_NAME], opset_version=opset,
                                  dynamic_axes=axes, do_constant_folding=True, dynamo=False)
    finally:
        for log in logs:
            log.removeHandler(keep)
    caught += [f"{w.category.__name__}: {str(w.message).strip().splitlines()[0][:300]}" for w in ws]
    return list(dict.fromkeys(m for m in caught if m.strip()))
