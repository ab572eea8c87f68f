"""What a path or name given to edgeseg is, decided once: a registry name, a checkpoint, an ONNX file or an
engine. Every entry point (export, build-engine, bench, optimize, eval and the runtime's `open_artifact`)
asks `resolve_source`, so they agree.

Rule: the suffix decides (edgeseg.names: .pt/.pth/.ckpt checkpoint, .onnx, .engine/.plan/.trt); an existing
file with any other suffix is refused (one line naming it); anything else is a registry name, checked by the
registry itself when it is built (edgeseg.models.get_model_info). Import-free: the runtime uses it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from edgeseg.errors import EdgesegError
from edgeseg.names import CHECKPOINT_SUFFIXES, ENGINE_SUFFIXES, ONNX_SUFFIXES

KINDS = ("registry", "checkpoint", "onnx", "engine")
FILE_KINDS = KINDS[1:]


@dataclass(frozen=True)
class Source:
    kind: str   # one of KINDS
    value: str  # the path or the registry name, as given

    @property
    def path(self) -> Path:
        return Path(self.value)

    @property
    def is_file_kind(self) -> bool:
        return self.kind != "registry"


def resolve_source(source: str | Path, allow: tuple[str, ...] = KINDS) -> Source:
    """The kind of `source` (see module docstring); a kind not in `allow` is a one-line error."""
    value = str(source)
    suffix = Path(value).suffix.lower()
    if suffix in CHECKPOINT_SUFFIXES:
        kind = "checkpoint"
    elif suffix in ONNX_SUFFIXES:
        kind = "onnx"
    elif suffix in ENGINE_SUFFIXES:
        kind = "engine"
    elif Path(value).is_file():
        raise EdgesegError(f"{value}: unknown artifact type {suffix!r}; pass a .pt checkpoint, .onnx or .engine")
    else:
        kind = "registry"
    if kind not in allow:
        raise EdgesegError(_refusal(value, kind, allow))
    return Source(kind, value)


_WHAT = {"registry": "a registry name", "checkpoint": "a checkpoint (.pt)", "onnx": "an ONNX file (.onnx)",
         "engine": "an engine"}


def _refusal(value: str, kind: str, allow: tuple[str, ...]) -> str:
    wanted = [_WHAT[k] for k in allow]
    pass_ = ", ".join(wanted[:-1]) + f" or {wanted[-1]}" if len(wanted) > 1 else wanted[0]
    if kind == "registry":
        return f"{value}: no such file; pass {pass_}"
    if kind == "engine":
        return f"{value}: already an engine; pass the {pass_.replace('a registry name', 'model name')} it came from"
    return f"{value}: {_WHAT[kind]} is not accepted here; pass {pass_}"
