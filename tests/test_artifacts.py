"""`edgeseg.artifacts`: atomic writes that respect the umask, sidecars, cache keys."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from edgeseg.artifacts import atomic_path, sidecar_path, write_bytes_atomic, write_sidecar


@pytest.fixture()
def umask() -> Iterator[None]:
    old = os.umask(0o022)  # the default umask on most systems
    try:
        yield
    finally:
        os.umask(old)


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def test_artifacts_readable_under_default_umask(tmp_path: Path, umask: None) -> None:
    art = tmp_path / "sub" / "m.engine"
    write_bytes_atomic(art, b"plan")
    write_sidecar(art, {"kind": "engine"})
    assert _mode(art) == 0o644 and _mode(sidecar_path(art)) == 0o644
    os.umask(0o077)  # a private umask is respected too
    write_bytes_atomic(tmp_path / "private.onnx", b"x")
    assert _mode(tmp_path / "private.onnx") == 0o600


def test_atomic_path_leaves_nothing_on_failure(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), atomic_path(tmp_path / "out.onnx") as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("step failed")
    assert list(tmp_path.iterdir()) == []
