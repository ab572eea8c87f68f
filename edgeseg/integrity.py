"""Artifact bytes against the sha256 their sidecar records, hashed once per file version.

`sha256_file` caches by (device, inode, size, mtime): a 120 MB U-Net is hashed once per process, not at
every open, cache-key and reuse check. As in git's racy-index rule, a file modified within the last
`RACY_SECONDS` is not cached: a coarse filesystem clock could give an edit made right after the hash the
same mtime, and the stale hash would pass a changed file.

`verify_recorded` is the check before use: a file whose bytes differ from its sidecar's sha256 is refused in
one line; a sidecar written by an older edgeseg without a sha256 is accepted with a warning (once per file).
"""

from __future__ import annotations

import hashlib
import os
import sys
import time
from pathlib import Path
from typing import Any

from edgeseg.errors import EdgesegError

RACY_SECONDS = 2.0
_HASHES: dict[tuple[int, int, int, int], str] = {}
_WARNED: set[str] = set()


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    st = os.stat(path)
    ident = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
    if ident in _HASHES:
        return _HASHES[ident]
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    digest = h.hexdigest()
    if time.time() - st.st_mtime > RACY_SECONDS:
        _HASHES[ident] = digest
    return digest


REBUILD = {"onnx": "edgeseg export", "onnx-fp16": "edgeseg quantize --fp16", "onnx-int8-qdq": "edgeseg quantize",
           "engine": "edgeseg build-engine"}


def verify_recorded(path: str | Path, meta: dict[str, Any] | None, rebuild: str | None = None) -> None:
    """Refuse `path` if its bytes differ from the sha256 in its sidecar `meta` (None: no sidecar, nothing to check).

    `rebuild`: the command that makes the file again (default: by the sidecar's kind), for the one-line message."""
    if meta is None:
        return
    rebuild = rebuild or REBUILD.get(str(meta.get("kind")), "the edgeseg command that made it")
    want = meta.get("sha256")
    path = Path(path)
    if not isinstance(want, str) or not want:
        if str(path) not in _WARNED:
            _WARNED.add(str(path))
            print(f"edgeseg: WARNING: {path}: its sidecar records no sha256 (written by an older edgeseg), so its "
                  f"bytes are not checked; rebuild with {rebuild} to record one", file=sys.stderr)
        return
    if sha256_file(path) != want:
        raise EdgesegError(f"{path}: changed since it was built (sha256 differs from its sidecar "
                           f"{path.name}.json); rebuild with {rebuild}")
