"""The one way eval, predict, bench and the INT8 Dice budget open a checkpoint, an ONNX file or an engine.

    art = open_artifact("m.engine")            # runner + the preprocessing/split recorded with it
    with art.runner as r: ...

`artifact_meta` is the one reader behind it: a checkpoint's payload, an ONNX file's sidecar, or an engine's
sidecar merged over the sidecar of the ONNX it was built from (an engine records how it was built, its
ONNX records the model, preprocessing and split). Runners import lazily: opening an engine needs no torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgeseg.artifacts import read_sidecar
from edgeseg.data.preprocess import Preprocess
from edgeseg.errors import EdgesegError
from edgeseg.runtime.base import Runner

CHECKPOINT_SUFFIXES = (".pt", ".pth")
ENGINE_SUFFIXES = (".engine", ".plan", ".trt")


def artifact_kind(path: str | Path) -> str:
    """"checkpoint" | "onnx" | "engine" from the file name, or a one-line error."""
    suffix = Path(path).suffix.lower()
    if suffix in CHECKPOINT_SUFFIXES:
        return "checkpoint"
    if suffix == ".onnx":
        return "onnx"
    if suffix in ENGINE_SUFFIXES:
        return "engine"
    raise EdgesegError(f"{path}: unknown artifact type {suffix!r}; pass a .pt checkpoint, .onnx or .engine")


def engine_source_onnx(engine: str | Path, meta: dict[str, Any]) -> Path | None:
    """The ONNX an engine was built from (sidecar "onnx": {"path", "sha256"}; relative paths tried beside it)."""
    src = meta.get("onnx")
    src = src.get("path") if isinstance(src, dict) else src
    if not isinstance(src, str) or not src:
        return None
    for cand in (Path(src), Path(engine).parent / src, Path(engine).parent / Path(src).name):
        if cand.is_file():
            return cand
    return None


def artifact_meta(path: str | Path) -> dict[str, Any]:
    """What is recorded with an artifact: checkpoint payload (without weights), ONNX sidecar, or an engine
    sidecar merged over its ONNX's (the engine's own keys win). {} when nothing is recorded."""
    path = Path(path)
    kind = artifact_kind(path)
    if kind == "checkpoint":
        from edgeseg.checkpoint import read_checkpoint

        payload = read_checkpoint(path)
        return {k: v for k, v in payload.items() if k != "state_dict"}
    meta = read_sidecar(path) or {}
    if kind == "engine":
        src = engine_source_onnx(path, meta)
        if src is not None:
            meta = {**(read_sidecar(src) or {}), **meta}
    return meta


@dataclass
class ArtifactInfo:
    """What an artifact records (no runner): its preprocessing and split, if any."""

    path: Path
    kind: str  # "checkpoint" | "onnx" | "engine"
    preprocess: Preprocess | None
    split: dict[str, Any] | None
    num_classes: int | None
    meta: dict[str, Any]


def describe_artifact(path: str | Path) -> ArtifactInfo:
    path = Path(path)
    if not path.exists():
        raise EdgesegError(f"{path}: no such file; pass a checkpoint (.pt), an ONNX file (.onnx) or an engine")
    kind = artifact_kind(path)
    meta = artifact_meta(path)
    pre = meta.get("preprocess")
    model = meta.get("model") if isinstance(meta.get("model"), dict) else {}
    return ArtifactInfo(path, kind, Preprocess.from_dict(pre) if isinstance(pre, dict) and pre else None,
                        meta.get("split"), model.get("num_classes"), meta)


@dataclass
class Artifact:
    path: Path
    kind: str  # "checkpoint" | "onnx" | "engine"
    runner: Runner
    preprocess: Preprocess
    split: dict[str, Any] | None
    num_classes: int | None = None


def open_artifact(path: str | Path, *, device: str = "cpu", split_file: str | Path | None = None,
                  threads: int | None = None) -> Artifact:
    """A runner + the preprocessing (+ split) recorded with a .pt checkpoint, .onnx or .engine file."""
    info = describe_artifact(path)
    path = info.path
    if info.preprocess is None:
        if info.kind == "checkpoint":
            raise EdgesegError(f"{path}: checkpoint records no preprocessing; train it with edgeseg train")
        raise EdgesegError(f"{path}: no preprocessing recorded (sidecar {path.name}.json with key 'preprocess' "
                           f"missing); export it with edgeseg export")
    runner: Runner
    if info.kind == "checkpoint":
        from edgeseg.runtime.torch_runner import TorchRunner

        runner = TorchRunner(path, device=device, threads=threads)
    elif info.kind == "onnx":
        from edgeseg.runtime.ort_runner import OnnxRuntimeRunner

        runner = OnnxRuntimeRunner(path, threads=threads)
    else:
        from edgeseg.runtime.trt_runner import TensorRTRunner

        runner = TensorRTRunner(path)
    split = info.split
    if split_file is not None:
        from edgeseg.data.dataset import read_split_file

        split = read_split_file(split_file)
    return Artifact(path, info.kind, runner, info.preprocess, split, info.num_classes)
