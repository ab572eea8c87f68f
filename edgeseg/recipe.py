"""One artifact recipe: network or checkpoint -> ONNX (with export rewrites) -> precision -> engine, declared
once and made by `materialize`, which every driver calls (build-engine, bench, the interleaved matrix, optimize,
the demo, the native table).

    made = materialize(Recipe("unet", precision="int8-io", size=(256, 256), calib="kvasir"))
    made.onnx, made.precision, made.steps
    made = materialize(Recipe("best.pt", precision="fp16", calib=None, engine=EngineSpec("tensorrt-rtx")))
    made.engine.path

Each step is edgeseg's own content-addressed step with its sidecar (`export_onnx`, `quantize_fp16`,
`quantize_int8`, `quantize_mixed`, `engine.build_onnx_engine`), so making a recipe twice reuses every file.
An ONNX source skips the export; its graph must be FP32 when a precision is asked (networks are strongly
typed: the precision is the graph's). Precision labels and Q/DQ layouts: edgeseg.names.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgeseg.errors import EdgesegError
from edgeseg.names import DEFAULT_OPSET, ENGINE_PRECISIONS, INT8_LIKE, MIXED_INT8, PRECISIONS, QDQ_LAYOUT

if TYPE_CHECKING:
    from edgeseg.engine import EngineResult


@dataclass(frozen=True)
class EngineSpec:
    """The engine step: a TensorRT / TensorRT-RTX build of the recipe's ONNX (edgeseg.engine)."""

    backend: str = "auto"                        # "auto" | "tensorrt" | "tensorrt-rtx"
    shapes: tuple[int, int, int] | None = None   # dynamic batch profile (min, opt, max); the export is dynamic
    out: str | Path | None = None                # the engine file (None: the cache)
    timing_cache: str | Path | None = None
    compute_capabilities: Sequence[str] | None = None  # TensorRT-RTX targets
    workspace_mb: int | None = None


@dataclass(frozen=True)
class Recipe:
    source: str | Path              # registry name, checkpoint or ONNX file (edgeseg.source decides)
    precision: str | None = None    # an edgeseg.names.PRECISIONS label; None: an ONNX source's own, else fp32
    size: tuple[int, int] | None = None  # None: the checkpoint's preprocessing, else the network's reference
    batch: int | str = 1            # or "dynamic"
    rewrites: str | None = "default"  # edgeseg.rewrites: "default", "none" or a comma list
    opset: int = DEFAULT_OPSET
    calib: str | Path | dict[str, Any] | None = None  # INT8 calibration manifest (name, path or loaded)
    layers: Sequence[dict[str, Any]] | None = None  # mixed-int8: per-Conv timings (edgeseg.mixed_int8)
    out: str | Path | None = None   # the final ONNX file (None: the cache)
    engine: EngineSpec | None = None


@dataclass(frozen=True)
class Made:
    onnx: Path                      # the recipe's ONNX (the engine's input when there is one)
    precision: str                  # its precision label
    fp32: Path                      # the FP32 graph it was made from (the export, or the ONNX source)
    steps: dict[str, str] = field(default_factory=dict)  # "export" / "quantize" -> the file that step gave
    engine: EngineResult | None = None


class NothingToMake(EdgesegError):
    """A recipe whose step makes nothing new (a mixed-INT8 graph with every Conv left in float)."""


def check(recipe: Recipe) -> None:
    """The recipe's own consistency, before any slow step."""
    p = recipe.precision
    if p is not None and p not in PRECISIONS:
        raise EdgesegError(f"precision must be one of {PRECISIONS}, got {p!r}")
    if p in INT8_LIKE and recipe.calib is None:
        raise EdgesegError(f"--{p} needs --calib NAME (a calibration set: edgeseg calib make --name NAME)")
    if p == MIXED_INT8 and recipe.layers is None:
        raise EdgesegError("mixed-int8 needs per-Conv timings (edgeseg.mixed_int8.measure_layers); edgeseg "
                           "optimize measures them")
    if recipe.engine is not None and p is not None and p not in ENGINE_PRECISIONS:
        raise EdgesegError(f"{p} is an ONNX Runtime layout; engines are built from {', '.join(ENGINE_PRECISIONS)} "
                           f"graphs")


def materialize(recipe: Recipe) -> Made:
    """Make (or reuse) every step of `recipe`; see the module docstring. One-line EdgesegError on bad input."""
    from edgeseg.source import resolve_source

    check(recipe)
    kind = resolve_source(recipe.source, allow=("registry", "checkpoint", "onnx")).kind
    builder = None
    if recipe.engine is not None:
        from edgeseg.engine import prepare_build

        builder = prepare_build(recipe.engine)  # TensorRT present, options valid: before the slow steps
    steps: dict[str, str] = {}
    export_batch = "dynamic" if recipe.engine is not None and recipe.engine.shapes else recipe.batch
    if kind == "onnx":
        fp32 = _onnx_source(Path(str(recipe.source)))
    else:
        from edgeseg.export import export_onnx

        fp32 = export_onnx(recipe.source, out=recipe.out if recipe.precision in (None, "fp32") else None,
                           size=recipe.size, batch=export_batch, opset=recipe.opset, rewrites=recipe.rewrites)
        steps["export"] = str(fp32)
    onnx, precision = _precision(fp32, recipe, steps)
    made = Made(onnx, precision, fp32, steps)
    if builder is None:
        return made
    from edgeseg.engine import build_onnx_engine

    batch = recipe.batch if isinstance(recipe.batch, int) else 1
    res = build_onnx_engine(builder, onnx, size=recipe.size, batch=batch, upstream=steps, source=recipe.source)
    return Made(onnx, precision, fp32, steps, res)


def _onnx_source(src: Path) -> Path:
    from edgeseg.artifacts import read_sidecar
    from edgeseg.integrity import verify_recorded

    if not src.is_file():
        raise EdgesegError(f"{src}: no such ONNX file; create it with edgeseg export")
    verify_recorded(src, read_sidecar(src))  # a damaged sidecar or changed file: an error now, not later
    return src


def precision_label_of(onnx: str | Path) -> str:
    """The precision label of an ONNX file: fp32 / fp16 / int8 from the graph itself (edgeseg.graph),
    "int8-io" / "mixed-int8" as its sidecar records (edgeseg.names.precision_label)."""
    from edgeseg.graph import onnx_precision
    from edgeseg.names import precision_label
    from edgeseg.sidecars import read_onnx_sidecar

    side = read_onnx_sidecar(onnx)
    return precision_label(onnx_precision(onnx), side and side.qdq_layout, side and side.precision)


def _precision(fp32: Path, recipe: Recipe, steps: dict[str, str]) -> tuple[Path, str]:
    """(the graph in the recipe's precision, its label): the FP32 graph itself, or its FP16/INT8 form
    (written to recipe.out when given)."""
    from edgeseg.graph import onnx_precision

    want, out = recipe.precision, recipe.out
    found = onnx_precision(fp32)
    if want is None or want == "fp32":
        if want == "fp32" and found != "fp32":
            raise EdgesegError(f"{fp32}: graph is already {found} (strongly typed builds take the graph's "
                               f"precision); drop --fp32 or pass the FP32 ONNX")
        return fp32, precision_label_of(fp32) if found == "int8" else found
    if found != "fp32":
        raise EdgesegError(f"{fp32}: graph is already {found}; pass it without "
                           f"--fp16/--int8 (the build takes the graph's precision)")
    from edgeseg import quantize

    if want == "fp16":
        path = quantize.quantize_fp16(fp32, out=out)
    elif want == MIXED_INT8:
        from edgeseg.mixed_int8 import quantize_mixed

        mixed = quantize_mixed(fp32, recipe.calib, list(recipe.layers or []), out=out)
        if mixed is None:
            raise NothingToMake(f"{fp32}: no Conv faster in INT8 than FP32 here (the mixed graph is FP32)")
        path = mixed
    else:
        path = quantize.quantize_int8(fp32, recipe.calib, out=out, qdq=QDQ_LAYOUT[want])
    steps["quantize"] = str(path)
    return Path(path), want
