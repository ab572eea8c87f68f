"""Refuse a missing, truncated, modified or foreign engine file before TensorRT deserializes it (a bad plan
can abort the process). Used by the TensorRT runner; needs no TensorRT itself."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edgeseg import trt_compat as tc
from edgeseg.artifacts import read_sidecar, sidecar_path
from edgeseg.errors import EdgesegError
from edgeseg.integrity import verify_recorded
from edgeseg.sidecars import EngineSidecar


def check_engine_file(path: str | Path, sidecar_check: bool = True, flavour: str | None = None) -> dict[str, Any]:
    """Refuse a missing, truncated, modified or foreign engine file before any TensorRT call; return its sidecar.

    Without a sidecar (and `sidecar_check=False`) only the TensorRT-RTX header is checked (when the file or
    `flavour` says TensorRT-RTX); the returned dict then has just {"flavour": guess or None, "unchecked": True}.
    """
    path = Path(path)
    rebuild = "rebuild it with edgeseg build-engine"
    if not path.is_file():
        raise EdgesegError(f"{path}: no such engine file; {rebuild}")
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(64)
    if size == 0:
        raise EdgesegError(f"{path}: engine file is empty; {rebuild}")
    meta = read_sidecar(path)
    if meta is None:
        if sidecar_check:
            raise EdgesegError(f"{path}: no sidecar {sidecar_path(path).name} (flavour, version, targets, sha256 "
                               f"unknown); {rebuild}, or pass --no-sidecar-check to load it unchecked")
        if head.startswith(tc.RTX_MAGIC):
            flavour = "tensorrt-rtx"
        if flavour == "tensorrt-rtx":
            _check_rtx_header(path, head, size)
        return {"flavour": flavour, "unchecked": True}
    side = EngineSidecar.from_meta(meta)
    if side is None:
        raise EdgesegError(f"{sidecar_path(path)}: not an edgeseg engine sidecar; {rebuild}")
    flavour, version, want, magic = side.flavour, side.trt_version, side.size_bytes, side.header_magic
    if want is not None and size < want:
        raise EdgesegError(f"{path}: truncated engine file ({size} of {want} bytes); {rebuild}")
    if magic and not head.startswith(magic):
        raise EdgesegError(f"{path}: foreign engine header (starts with {head[:8]!r}, a {flavour} {version} engine "
                           f"starts with {magic!r}); not the engine its sidecar describes; {rebuild}")
    if flavour == "tensorrt-rtx":
        _check_rtx_header(path, head, size)
    if want is not None and size != want:
        raise EdgesegError(f"{path}: engine file is {size} bytes, its sidecar says {want}; {rebuild}")
    verify_recorded(path, meta, "edgeseg build-engine")
    return meta


def _check_rtx_header(path: Path, head: bytes, size: int) -> None:
    hdr = tc.read_rtx_header(head)
    if hdr is None or hdr[0] != tc.RTX_MAGIC:
        raise EdgesegError(f"{path}: foreign engine header (starts with {head[:8]!r}, TensorRT-RTX engines start "
                           f"with {tc.RTX_MAGIC!r}); rebuild it with edgeseg build-engine --backend tensorrt-rtx")
    if hdr[1] != size:
        what = "truncated" if size < hdr[1] else "corrupt"
        raise EdgesegError(f"{path}: {what} TensorRT-RTX engine ({size} bytes on disk, its header says {hdr[1]}); "
                           f"rebuild it with edgeseg build-engine")
