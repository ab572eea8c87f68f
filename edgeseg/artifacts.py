"""Artifact plumbing shared by every pipeline step.

Each step (export, quantize, build-engine, ...) is a pure function of its inputs. Its output is written
under a temporary name and renamed (never half-written), and gets a JSON sidecar `FILE.json` that names
the hashes of its inputs, library versions and shapes. `cache_key` + `reuse_if_fresh` let a rerun with the
same inputs reuse the artifact and a changed input rebuild it.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import tempfile
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgeseg.errors import EdgesegError
from edgeseg.integrity import sha256_file  # noqa: F401 - cached by file version; re-exported
from edgeseg.storage import disk_full_error, is_disk_full

SIDECAR_SUFFIX = ".json"


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def cache_key(payload: dict[str, Any]) -> str:
    """A stable hash of a JSON-able description of a step's inputs (hashes, options, versions)."""
    blob = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str).encode()
    return sha256_bytes(blob)[:16]


def current_umask() -> int:
    """The process umask (read by setting it and putting it back; there is no getter)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def check_output_path(path: str | Path) -> None:
    """Refuse an output path that cannot be written before any work is done: its nearest existing ancestor
    must be a writable folder (a file there, e.g. `--out FILE/x.onnx`, is the usual mistake)."""
    path = Path(path)
    if path.is_dir():
        raise EdgesegError(f"{path}: is a folder; pass a file path for the output")
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise EdgesegError(f"{parent}: is a file, not a folder, so {path} cannot be created; choose another "
                           f"output path")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise EdgesegError(f"{parent}: not writable, so {path} cannot be created; choose another output path")


@contextlib.contextmanager
def staged_path(final: str | Path, size: int | None = None) -> Iterator[Path]:
    """Yield a temporary path beside `final` and leave it there if the block succeeds (the caller renames it with
    `commit`); remove it if the block fails. A block that fails on a full disk or quota becomes one line naming
    `final` and the space needed (`size`, when known); the earlier file at `final` is never touched."""
    final = Path(final)
    check_output_path(final)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
    except OSError as e:
        if is_disk_full(e):
            raise disk_full_error(final, e, needed=size) from None
        raise EdgesegError(f"{final.parent}: cannot create the output folder ({e.strerror}); "
                           f"choose another output path") from None
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
    except BaseException as e:
        written = tmp_path.stat().st_size if tmp_path.is_file() else None
        _remove(tmp_path)  # first, so a full disk's message gives the free space the user really has
        if isinstance(e, EdgesegError) or not is_disk_full(e):
            raise
        raise disk_full_error(final, e, needed=size, written=written) from None


def _remove(p: Path) -> None:
    import shutil

    if p.is_dir() and not p.is_symlink():
        shutil.rmtree(p, ignore_errors=True)
    else:
        p.unlink(missing_ok=True)


def commit(tmp: Path, final: str | Path) -> None:
    """Rename a staged file onto `final`, with the mode a plain `open(final, "w")` would give (0o666 minus the
    umask, usually 0644), not mkstemp's private 0600: an engine or ONNX file is read by other users and by
    containers with another uid."""
    os.chmod(tmp, (0o777 if tmp.is_dir() else 0o666) & ~current_umask())
    os.replace(tmp, final)


@contextlib.contextmanager
def atomic_path(final: str | Path, size: int | None = None) -> Iterator[Path]:
    """Yield a temporary path beside `final`; rename it onto `final` only if the block succeeds (`staged_path`:
    a full disk is one line, and nothing is left half-written)."""
    with staged_path(final, size) as tmp:
        yield tmp
        commit(tmp, final)


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    with atomic_path(path, len(data)) as tmp:
        tmp.write_bytes(data)


def write_json_atomic(path: str | Path, obj: Any) -> None:
    write_bytes_atomic(path, (json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n").encode())


def sidecar_path(artifact: str | Path) -> Path:
    artifact = Path(artifact)
    return artifact.with_name(artifact.name + SIDECAR_SUFFIX)


def read_sidecar(artifact: str | Path) -> dict[str, Any] | None:
    """The sidecar's JSON object; None if there is none. An unreadable one is an error naming it."""
    p = sidecar_path(artifact)
    if not p.exists():
        return None
    try:
        meta = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise EdgesegError(f"{p}: unreadable sidecar ({type(e).__name__}); delete it and re-create "
                           f"{Path(artifact).name} with the edgeseg command that made it") from None
    if not isinstance(meta, dict):
        raise EdgesegError(f"{p}: sidecar is JSON but not an object ({type(meta).__name__}); delete it and "
                           f"re-create {Path(artifact).name} with the edgeseg command that made it")
    return meta


def write_sidecar(artifact: str | Path, meta: dict[str, Any]) -> Path:
    """Write `artifact.json`; records the artifact's own sha256 so a changed file is detected."""
    meta = dict(meta)
    meta.setdefault("sha256", sha256_file(artifact))
    p = sidecar_path(artifact)
    write_json_atomic(p, meta)
    return p


def reuse_if_fresh(artifact: str | Path, key: str) -> dict[str, Any] | None:
    """Return the sidecar if `artifact` exists, was made from inputs with this `key`, and is unchanged."""
    artifact = Path(artifact)
    try:
        meta = read_sidecar(artifact)
    except EdgesegError:  # a damaged sidecar of an output: rebuild (both are overwritten)
        return None
    if not artifact.exists() or meta is None or meta.get("cache_key") != key:
        return None
    if meta.get("sha256") != sha256_file(artifact):
        return None
    return meta


def library_versions() -> dict[str, str]:
    """Versions of the libraries an artifact depends on (absent ones are left out)."""
    import importlib.metadata as md

    out: dict[str, str] = {}
    for dist in ("edgeseg", "torch", "numpy", "onnx", "onnxruntime", "onnxsim", "tensorrt",
                 "tensorrt-rtx-cu13-bindings", "tensorrt_rtx"):
        try:
            out[dist] = md.version(dist)
        except md.PackageNotFoundError:
            continue
    return out


@functools.lru_cache(maxsize=1)
def code_identity() -> str:
    """sha256 (16 hex) over edgeseg's own source: every edgeseg/**/*.py, path and bytes, sorted; once per process.

    Part of every export/quantize/engine cache key: an editable install is always version 0.1.0, so without
    it a changed model or exporter would reuse a stale ONNX (and every FP16/INT8/engine key downstream).
    Hashing the whole package is coarser than the files an artifact needs, and never stale.
    """
    root = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for p in sorted(root.rglob("*.py")):
        h.update(p.relative_to(root).as_posix().encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()[:16]


@dataclass(frozen=True)
class ArtifactStep:
    """One pipeline step's output: `reused` is its fresh sidecar (nothing to do) or None (build it).

        step = build_step({"step": "fp16", ...}, out, lambda key: cache / f"m-{key}.onnx")
        if step.reused is None:
            with step.writing() as tmp:     # staged beside step.out; removed if the block fails
                save(tmp)
            step.finish("onnx-fp16", {...}, source=src)   # sidecar, then both renamed into place
    """

    out: Path
    key: str
    reused: dict[str, Any] | None
    _staged: list[Path] = field(default_factory=list, repr=False, compare=False)

    @contextlib.contextmanager
    def writing(self) -> Iterator[Path]:
        """A temporary path for the artifact. It stays staged (not yet at `out`) until `finish` has written its
        sidecar, so a disk that fills on the sidecar leaves the earlier artifact and sidecar at `out` intact."""
        with staged_path(self.out) as tmp:
            yield tmp
        self._staged.append(tmp)
        weakref.finalize(self, tmp.unlink, missing_ok=True)  # a step abandoned before finish leaves nothing

    def finish(self, kind: str, meta: dict[str, Any], *, source: str | Path | dict[str, Any] | None = None,
               versions: dict[str, Any] | None = None) -> dict[str, Any]:
        """Write the sidecar (kind, cache_key, sha256, source {path, sha256} for a path, versions, code identity,
        then `meta`), rename the staged artifact and its sidecar into place, and return the sidecar as read back.
        If the sidecar cannot be written, neither is renamed: nothing is left half-recorded."""
        if isinstance(source, (str, Path)):
            source = {"path": str(source), "sha256": sha256_file(source)}
        side = {"kind": kind, "cache_key": self.key, **({"source": source} if source is not None else {}),
                "versions": library_versions() if versions is None else versions, "code": code_identity(), **meta}
        staged = self._staged.pop() if self._staged else None
        side.setdefault("sha256", sha256_file(staged or self.out))
        data = (json.dumps(side, indent=2, sort_keys=True, default=str) + "\n").encode()
        stmp: Path | None = None
        try:
            with staged_path(sidecar_path(self.out), len(data)) as stmp:
                stmp.write_bytes(data)
            if staged is not None:
                commit(staged, self.out)
            commit(stmp, sidecar_path(self.out))
        except BaseException:
            for p in (staged, stmp):
                if p is not None:
                    p.unlink(missing_ok=True)
            if staged is None:  # built in place (no `writing`): an artifact without its sidecar would be refused
                self.out.unlink(missing_ok=True)
            raise
        return read_sidecar(self.out) or side


def build_step(key_payload: dict[str, Any], out: str | Path | None,
               default: Callable[[str], Path]) -> ArtifactStep:
    """Key a step by `key_payload` (see `cache_key`); its output is `out`, or `default(key)` when None.

    A fresh output (same key, unchanged file) is reused; otherwise the output path is checked now, before
    any work (`check_output_path`), so a fresh artifact in a read-only place still serves."""
    key = cache_key(key_payload)
    path = Path(out) if out is not None else default(key)
    reused = reuse_if_fresh(path, key)
    if reused is None:
        check_output_path(path)
    return ArtifactStep(path, key, reused)


def default_cache_dir() -> Path:
    """Where derived artifacts live unless `--out` says otherwise (override with EDGESEG_CACHE)."""
    return Path(os.environ.get("EDGESEG_CACHE", ".edgeseg-cache"))
