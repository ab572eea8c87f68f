"""Typed readers for the sidecars the pipeline writes, so callers read fields, not guesses.

    side = read_engine_sidecar("m.engine")     # None when absent or not an edgeseg engine sidecar
    side.flavour, side.precision, side.targets
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgeseg.artifacts import read_sidecar

FLAVOURS = ("tensorrt", "tensorrt-rtx")  # = edgeseg.trt_compat.FLAVOURS (kept import-free here)
PRECISIONS = ("fp32", "fp16", "int8")


@dataclass(frozen=True)
class EngineSidecar:
    """What `build_engine_info` records with an engine (kind "engine")."""

    flavour: str                      # "tensorrt" | "tensorrt-rtx"
    trt_version: str | None
    precision: str | None             # "fp32" | "fp16" | "int8"
    targets: list[str]                # TensorRT-RTX target compute capabilities ([] for TensorRT)
    default_targets: bool
    built_on_gpu: dict[str, str] | None
    onnx_path: str | None
    onnx_sha256: str | None
    meta: dict[str, Any]

    @classmethod
    def from_meta(cls, meta: dict[str, Any] | None) -> EngineSidecar | None:
        if not isinstance(meta, dict) or meta.get("kind") != "engine" or meta.get("flavour") not in FLAVOURS:
            return None
        onnx = meta.get("onnx") if isinstance(meta.get("onnx"), dict) else {}
        built = meta.get("built_on_gpu")
        prec = meta.get("precision")
        return cls(meta["flavour"], meta.get("trt_version"), prec if prec in PRECISIONS else None,
                   [str(t) for t in meta.get("target_compute_capabilities") or []],
                   bool(meta.get("default_targets")), built if isinstance(built, dict) else None,
                   onnx.get("path"), onnx.get("sha256"), meta)


def read_engine_sidecar(engine: str | Path) -> EngineSidecar | None:
    return EngineSidecar.from_meta(read_sidecar(engine))
