"""Typed readers for what the pipeline records with an artifact, so callers read fields, not guesses.

    side = read_engine_sidecar("m.engine")     # None when absent or not an edgeseg engine sidecar
    side.flavour, side.precision, side.targets
    onnx = read_onnx_sidecar("m.onnx")         # export / FP16 / INT8 / mixed-INT8 sidecar (None when absent)
    onnx.precision, onnx.preprocess, onnx.qdq_layout
    ckpt = CheckpointRecord.from_payload(read_checkpoint("best.pt"))

Conventions: a field the artifact does not record is None (or [] for lists); `meta` keeps the whole record
for the rare caller that needs more. Each `from_...` checks types, so a hand-edited sidecar reads as absent
fields, never as a crash in the caller. Import-free beyond edgeseg.artifacts and edgeseg.names (the
runtime reads these).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgeseg.artifacts import read_sidecar
from edgeseg.names import ENGINE_PRECISIONS, FLAVOURS, ONNX_KINDS


def _str(v: Any) -> str | None:
    return v if isinstance(v, str) else None


def _dict(v: Any) -> dict[str, Any] | None:
    return v if isinstance(v, dict) else None


@dataclass(frozen=True)
class SourceRef:
    """The input an artifact was made from: {"path", "sha256"} (+ "kind", "name" for an export)."""

    path: str | None
    sha256: str | None
    kind: str | None = None           # export only: "checkpoint" | "registry"
    name: str | None = None           # export of a bare registry name

    @classmethod
    def from_meta(cls, v: Any) -> SourceRef | None:
        if not isinstance(v, dict):
            return None
        return cls(_str(v.get("path")), _str(v.get("sha256")), _str(v.get("kind")), _str(v.get("name")))


@dataclass(frozen=True)
class OnnxSidecar:
    """What `export_onnx`, `quantize_fp16`, `quantize_int8` and `quantize_mixed` record with an ONNX file.

    FP16/INT8 sidecars carry the export's model, preprocess, split and weights, so every ONNX file answers
    the same questions."""

    kind: str | None                  # "onnx" | "onnx-fp16" | "onnx-int8-qdq"; None: a hand-written sidecar
    precision: str | None             # "fp32" | "fp16" | "int8" | "mixed-int8"
    source: SourceRef | None
    preprocess: dict[str, Any] | None  # edgeseg.data.preprocess.Preprocess.to_dict()
    model: dict[str, Any] | None      # the registry config (name, in_channels, num_classes, options)
    split: dict[str, Any] | None
    weights: str | None               # "checkpoint" | "random-init"
    qdq_layout: str | None            # INT8 only: "conv-inputs" (TensorRT) | "conv-io" (ONNX Runtime CPU)
    float_nodes: list[str]            # INT8 only: Convs left in float (Dice budget, mixed-int8)
    meta: dict[str, Any]

    @classmethod
    def from_meta(cls, meta: dict[str, Any] | None) -> OnnxSidecar | None:
        if not isinstance(meta, dict) or meta.get("kind") not in (None, *ONNX_KINDS):
            return None
        kind = meta.get("kind")
        prec = _str(meta.get("precision")) or ONNX_KINDS.get(kind or "")
        nodes = meta.get("float_nodes")
        return cls(kind, prec, SourceRef.from_meta(meta.get("source")), _dict(meta.get("preprocess")) or None,
                   _dict(meta.get("model")), _dict(meta.get("split")), _str(meta.get("weights")),
                   _str(meta.get("qdq_layout")), [str(n) for n in nodes] if isinstance(nodes, list) else [], meta)

    @property
    def num_classes(self) -> int | None:
        n = (self.model or {}).get("num_classes")
        return n if isinstance(n, int) else None


@dataclass(frozen=True)
class CheckpointRecord:
    """What a checkpoint (`edgeseg.checkpoint.read_checkpoint` payload) records beside its weights."""

    model: dict[str, Any]             # the registry config the weights fit
    preprocess: dict[str, Any] | None
    split: dict[str, Any] | None
    data: str | None                  # the data folder it was trained on
    meta: dict[str, Any]              # the payload without "state_dict"

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> CheckpointRecord:
        meta = {k: v for k, v in payload.items() if k != "state_dict"}
        return cls(_dict(meta.get("model")) or {}, _dict(meta.get("preprocess")) or None, _dict(meta.get("split")),
                   _str(meta.get("data")), meta)

    @property
    def num_classes(self) -> int | None:
        n = self.model.get("num_classes")
        return n if isinstance(n, int) else None


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
    sha256: str | None                # of the engine file itself
    size_bytes: int | None
    header_magic: bytes               # the plan's first bytes (b"" when not recorded)
    meta: dict[str, Any]

    @classmethod
    def from_meta(cls, meta: dict[str, Any] | None) -> EngineSidecar | None:
        if not isinstance(meta, dict) or meta.get("kind") != "engine" or meta.get("flavour") not in FLAVOURS:
            return None
        onnx = _dict(meta.get("onnx")) or {}
        prec = meta.get("precision")
        size = meta.get("size_bytes")
        try:
            magic = bytes.fromhex(meta.get("header_magic") or "")
        except (TypeError, ValueError):
            magic = b""
        return cls(meta["flavour"], _str(meta.get("trt_version")), prec if prec in ENGINE_PRECISIONS else None,
                   [str(t) for t in meta.get("target_compute_capabilities") or []],
                   bool(meta.get("default_targets")), _dict(meta.get("built_on_gpu")),
                   _str(onnx.get("path")), _str(onnx.get("sha256")), _str(meta.get("sha256")),
                   size if isinstance(size, int) and not isinstance(size, bool) else None, magic, meta)


def read_engine_sidecar(engine: str | Path) -> EngineSidecar | None:
    return EngineSidecar.from_meta(read_sidecar(engine))


def read_onnx_sidecar(onnx: str | Path) -> OnnxSidecar | None:
    return OnnxSidecar.from_meta(read_sidecar(onnx))
