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


_EXPORT = """
import json, sys
from edgeseg.artifacts import code_identity
from edgeseg.export import export_onnx
p = export_onnx("tinyunet", sys.argv[1], size=(32, 32), check=False)
print(json.dumps({"key": json.load(open(str(p) + ".json"))["cache_key"], "code": code_identity()}))
"""


def test_changed_model_source_rebuilds_the_export(tmp_path: Path) -> None:
    """The code identity is in the export key: editing a model in a copy of the package rebuilds its ONNX."""
    import json
    import shutil
    import subprocess
    import sys

    import edgeseg

    pkg = tmp_path / "pkg"
    shutil.copytree(Path(edgeseg.__file__).parent, pkg / "edgeseg", ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path / "m.onnx"
    env = {**os.environ, "PYTHONPATH": str(pkg), "EDGESEG_CACHE": str(tmp_path / "cache")}

    def export() -> tuple[dict, int]:
        r = subprocess.run([sys.executable, "-c", _EXPORT, str(out)], capture_output=True, text=True, env=env,
                           cwd=tmp_path, timeout=300, check=False)
        assert r.returncode == 0, r.stderr[-2000:]
        return json.loads(r.stdout.strip().splitlines()[-1]), out.stat().st_mtime_ns

    first, t1 = export()
    again, t2 = export()
    assert again == first and t2 == t1  # unchanged code: reused, not rewritten
    with open(pkg / "edgeseg" / "models" / "tinyunet.py", "a") as f:
        f.write("\n# an edit to the model's source\n")
    edited, t3 = export()
    assert edited["code"] != first["code"] and edited["key"] != first["key"] and t3 != t1  # rebuilt
