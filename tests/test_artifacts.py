"""`edgeseg.artifacts`: atomic writes that respect the umask, sidecars, cache keys, the step protocol."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from edgeseg.artifacts import (
    ArtifactStep,
    atomic_path,
    build_step,
    cache_key,
    code_identity,
    read_sidecar,
    sha256_file,
    sidecar_path,
    write_bytes_atomic,
    write_sidecar,
)
from edgeseg.errors import EdgesegError


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


def _run_step(tmp: Path, payload: dict, data: bytes, out: Path | None = None) -> tuple[ArtifactStep, int]:
    """One pipeline step writing `data`, as export/quantize/build-engine do; returns (step, files written)."""
    src = tmp / "src.bin"
    step = build_step(payload, out, lambda key: tmp / "cache" / f"a-{key}.bin")
    if step.reused is not None:
        return step, 0
    with step.writing() as f:
        f.write_bytes(data)
    step.finish("test", {"precision": "fp32", "n": len(data)}, source=src)
    return step, 1


def test_step_reuses_when_fresh_and_rebuilds_when_key_or_file_changes(tmp_path: Path) -> None:
    (tmp_path / "src.bin").write_bytes(b"input")
    first, built = _run_step(tmp_path, {"step": "t", "opt": 1}, b"v1")
    assert built == 1 and first.out == tmp_path / "cache" / f"a-{cache_key({'step': 't', 'opt': 1})}.bin"
    side = read_sidecar(first.out)
    assert side is not None and side["cache_key"] == first.key and side["sha256"] == sha256_file(first.out)
    assert side["kind"] == "test" and side["precision"] == "fp32" and side["n"] == 2 and side["code"] == code_identity()
    assert side["source"] == {"path": str(tmp_path / "src.bin"), "sha256": sha256_file(tmp_path / "src.bin")}
    assert "numpy" in side["versions"]

    again, built = _run_step(tmp_path, {"step": "t", "opt": 1}, b"other bytes")
    assert built == 0 and again.reused == side and first.out.read_bytes() == b"v1"  # same key: reused

    other, built = _run_step(tmp_path, {"step": "t", "opt": 2}, b"v2")  # another key: another file
    assert built == 1 and other.out != first.out and other.out.read_bytes() == b"v2"

    fixed = tmp_path / "fixed.bin"  # one --out path: a changed key overwrites it, artifact and sidecar
    _run_step(tmp_path, {"step": "t", "opt": 1}, b"v1", fixed)
    step, built = _run_step(tmp_path, {"step": "t", "opt": 3}, b"v3", fixed)
    assert built == 1 and fixed.read_bytes() == b"v3" and read_sidecar(fixed)["cache_key"] == step.key

    fixed.write_bytes(b"edited by hand")  # the file changed since its sidecar was written: rebuilt
    step, built = _run_step(tmp_path, {"step": "t", "opt": 3}, b"v3", fixed)
    assert built == 1 and fixed.read_bytes() == b"v3" and read_sidecar(fixed)["sha256"] == sha256_file(fixed)


def test_step_leaves_nothing_on_failure(tmp_path: Path) -> None:
    out = tmp_path / "out" / "m.onnx"
    step = build_step({"step": "t"}, out, lambda key: tmp_path / "unused")
    with pytest.raises(RuntimeError), step.writing() as f:  # the work fails: no file, no temporary
        f.write_bytes(b"half")
        raise RuntimeError("step failed")
    assert not out.exists() and list(out.parent.iterdir()) == []

    out.write_bytes(b"earlier good")
    (out.parent / "m.onnx.json").mkdir()  # the sidecar cannot be written (a full disk: tests/test_faults.py)
    with step.writing() as f:
        f.write_bytes(b"whole")
    assert out.read_bytes() == b"earlier good"  # staged, not yet in place
    with pytest.raises(EdgesegError, match="is a folder"):
        step.finish("test", {})
    assert sorted(p.name for p in out.parent.iterdir()) == ["m.onnx", "m.onnx.json"]  # no temporary left
    assert out.read_bytes() == b"earlier good"  # neither renamed: the earlier artifact is intact


def test_step_refuses_a_bad_output_path_before_any_work(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(EdgesegError, match="is a file, not a folder"):
        build_step({"step": "t"}, tmp_path / "file" / "m.onnx", lambda key: tmp_path / "unused")


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


def test_typed_sidecars_read_fields_not_guesses() -> None:
    from edgeseg.sidecars import CheckpointRecord, EngineSidecar, OnnxSidecar

    fp32 = OnnxSidecar.from_meta({"kind": "onnx", "model": {"name": "unet", "num_classes": 1},
                                  "source": {"kind": "registry", "name": "unet", "path": None, "sha256": None}})
    assert fp32 is not None and fp32.precision == "fp32" and fp32.num_classes == 1 and fp32.source.name == "unet"
    mixed = OnnxSidecar.from_meta({"kind": "onnx-int8-qdq", "precision": "mixed-int8", "qdq_layout": "conv-io",
                                   "float_nodes": ["/c1/Conv"], "preprocess": "damaged"})
    assert mixed is not None and (mixed.precision, mixed.qdq_layout, mixed.float_nodes, mixed.preprocess) == \
        ("mixed-int8", "conv-io", ["/c1/Conv"], None)
    assert OnnxSidecar.from_meta({"kind": "onnx-fp16"}).precision == "fp16"
    assert OnnxSidecar.from_meta({"kind": "engine", "flavour": "tensorrt-rtx"}) is None  # not an ONNX sidecar
    eng = EngineSidecar.from_meta({"kind": "engine", "flavour": "tensorrt-rtx", "size_bytes": 10,
                                   "header_magic": "zz", "onnx": {"path": "m.onnx", "sha256": "ab"}})
    assert eng is not None and eng.size_bytes == 10 and eng.header_magic == b"" and eng.onnx_path == "m.onnx"
    assert EngineSidecar.from_meta({"kind": "onnx", "flavour": "tensorrt"}) is None
    ckpt = CheckpointRecord.from_payload({"model": {"name": "unet", "num_classes": 2}, "state_dict": {},
                                          "preprocess": {"height": 8}, "split": {"train": []}})
    assert ckpt.num_classes == 2 and ckpt.preprocess == {"height": 8} and "state_dict" not in ckpt.meta
