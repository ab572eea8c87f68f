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

from edgeseg.artifacts import read_sidecar, sidecar_path
from edgeseg.data.preprocess import Preprocess, given_preprocess
from edgeseg.errors import EdgesegError
from edgeseg.runtime.base import Runner
from edgeseg.sidecars import CheckpointRecord, EngineSidecar, OnnxSidecar
from edgeseg.source import FILE_KINDS, resolve_source


def artifact_kind(path: str | Path) -> str:
    """"checkpoint" | "onnx" | "engine" (edgeseg.source decides), or a one-line error."""
    return resolve_source(path, allow=FILE_KINDS).kind


def engine_source_onnx(engine: str | Path, side: EngineSidecar | None) -> Path | None:
    """The ONNX an engine was built from (its sidecar's onnx path; relative paths tried beside the engine)."""
    src = side.onnx_path if side is not None else None
    if not src:
        return None
    for cand in (Path(src), Path(engine).parent / src, Path(engine).parent / Path(src).name):
        if cand.is_file():
            return cand
    return None


def _read(path: Path) -> tuple[str, OnnxSidecar | CheckpointRecord | None, EngineSidecar | None, dict[str, Any]]:
    """(kind, what records the model/preprocess/split, the engine's own sidecar, merged dict); see artifact_meta."""
    kind = artifact_kind(path)
    if kind == "checkpoint":
        from edgeseg.checkpoint import read_checkpoint

        ckpt = CheckpointRecord.from_payload(read_checkpoint(path))
        return kind, ckpt, None, ckpt.meta
    meta = read_sidecar(path) or {}
    if kind == "onnx":
        return kind, OnnxSidecar.from_meta(meta), None, meta
    engine = EngineSidecar.from_meta(meta)
    src = engine_source_onnx(path, engine)
    onnx_meta = (read_sidecar(src) or {}) if src is not None else {}
    return kind, OnnxSidecar.from_meta(onnx_meta), engine, {**onnx_meta, **meta}


def artifact_meta(path: str | Path) -> dict[str, Any]:
    """What is recorded with an artifact: checkpoint payload (without weights), ONNX sidecar, or an engine
    sidecar merged over its ONNX's (the engine's own keys win). {} when nothing is recorded."""
    return _read(Path(path))[3]


@dataclass
class ArtifactInfo:
    """What an artifact records (no runner): its preprocessing and split, if any."""

    path: Path
    kind: str  # "checkpoint" | "onnx" | "engine"
    preprocess: Preprocess | None
    split: dict[str, Any] | None
    num_classes: int | None
    meta: dict[str, Any]  # artifact_meta(path)
    record: OnnxSidecar | CheckpointRecord | None = None  # the checkpoint's, or the (engine's) ONNX sidecar
    engine: EngineSidecar | None = None


def describe_artifact(path: str | Path) -> ArtifactInfo:
    path = Path(path)
    if not path.exists():
        raise EdgesegError(f"{path}: no such file; pass a checkpoint (.pt), an ONNX file (.onnx) or an engine")
    kind, rec, engine, meta = _read(path)
    pre = rec.preprocess if rec is not None else None
    try:
        pp = Preprocess.from_dict(pre) if pre else None
    except (KeyError, TypeError, ValueError, AttributeError):
        where = path if kind == "checkpoint" else sidecar_path(path)
        keys = sorted(map(str, pre))[:6] if isinstance(pre, dict) else type(pre).__name__
        raise EdgesegError(f"{where}: its recorded preprocessing is damaged ({keys}); re-create {path.name} "
                           f"with the edgeseg command that made it") from None
    return ArtifactInfo(path, kind, pp, rec.split if rec else None, rec.num_classes if rec else None, meta, rec,
                        engine)


@dataclass
class Artifact:
    path: Path
    kind: str  # "checkpoint" | "onnx" | "engine"
    runner: Runner
    preprocess: Preprocess
    split: dict[str, Any] | None
    num_classes: int | None = None


GIVE_PREPROCESS = "or give it: --mean M [M M] --std S [S S] (--foreground) or --preprocess FILE.json"


def _input_dims(info: ArtifactInfo) -> dict[str, Any]:
    """height/width/channels of the artifact's input (None where dynamic), from its sidecar or ONNX graph."""
    shape = None
    inputs = info.meta.get("inputs")
    if isinstance(inputs, list) and inputs and isinstance(inputs[0], dict):
        shape = inputs[0].get("shape")
    if shape is None and info.kind == "onnx":
        from edgeseg.graph import onnx_input

        shape = onnx_input(info.path)[1]
    dims = [d if isinstance(d, int) and d > 0 else None for d in (shape or [])]
    return dict(zip(("channels", "height", "width"), dims[1:4] if len(dims) == 4 else [None] * 3, strict=True))


def resolve_preprocess(info: ArtifactInfo, given: dict[str, Any] | None = None) -> Preprocess:
    """The recorded preprocessing, with `given` (--mean/--std/--foreground or a --preprocess file) in its place:
    a foreign ONNX file (no edgeseg sidecar) runs once the user states how its inputs are normalised. Size and
    channels default to the artifact's input. Neither recorded nor given: refused, with that hint."""
    path = info.path
    if not given:
        if info.preprocess is not None:
            return info.preprocess
        if info.kind == "checkpoint":
            raise EdgesegError(f"{path}: checkpoint records no preprocessing; train it with edgeseg train")
        raise EdgesegError(f"{path}: no preprocessing recorded (sidecar {path.name}.json with key 'preprocess' "
                           f"missing); export it with edgeseg export, {GIVE_PREPROCESS}")
    base = info.preprocess.to_dict() if info.preprocess is not None else {"mean": [0.5], "std": [0.5],
                                                                          **_input_dims(info)}
    d = {**base, **{k: v for k, v in given.items() if v is not None}}
    missing = [k for k in ("height", "width", "channels") if d.get(k) is None]
    if missing:
        raise EdgesegError(f"{path}: its input {'/'.join(missing)} is dynamic; give it in --preprocess FILE.json "
                           f'(e.g. {{"height": 256, "width": 256, "channels": 1, "mean": [0.5], "std": [0.5]}})')
    return given_preprocess(d, f"preprocessing for {path}")


def open_artifact(path: str | Path, *, device: str = "cpu", split_file: str | Path | None = None,
                  threads: int | None = None, preprocess: dict[str, Any] | None = None) -> Artifact:
    """A runner + the preprocessing (+ split) recorded with a .pt checkpoint, .onnx or .engine file
    (`preprocess`: given in place of, or over, the recorded one; see `resolve_preprocess`)."""
    info = describe_artifact(path)
    path = info.path
    pre = resolve_preprocess(info, preprocess)
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
    return Artifact(path, info.kind, runner, pre, split, info.num_classes)
