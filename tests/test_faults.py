"""Faults a user's bad day brings: a full disk, hostile images, tampered artifacts, a foreign ONNX file.

Each ends in one line naming the file and the fix, exit code 2, no traceback, no temporary file left, and any
earlier good artifact at the path unchanged. The full disk is real: a small tmpfs mounted by the test (root
only, as CI runs; skipped with the reason elsewhere), filled with a ballast file. Nothing mocks `open`.
"""

from __future__ import annotations

import errno
import io
import json
import os
import subprocess
import sys
import zlib
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from edgeseg.artifacts import atomic_path, build_step, read_sidecar, sha256_file, sidecar_path
from edgeseg.calib import make_calib
from edgeseg.checkpoint import save_checkpoint
from edgeseg.cli import main
from edgeseg.data.images import read_image, read_mask
from edgeseg.data.preprocess import Preprocess
from edgeseg.data.synth import make_synthetic
from edgeseg.errors import EdgesegError
from edgeseg.export import export_onnx
from edgeseg.models import create_model

SIZE = 32


def run_cli(argv: list[str]) -> tuple[int, str]:
    err, out = io.StringIO(), io.StringIO()
    with redirect_stderr(err), redirect_stdout(out):
        try:
            rc = main(argv)
        except SystemExit as e:
            rc = e.code if isinstance(e.code, int) else 1
    return rc, err.getvalue()


def one_line(rc: int, err: str, *names: str) -> str:
    """Assert the house rule for a refused command; returns the error line."""
    assert "Traceback" not in err, err
    assert rc == 2, (rc, err)
    lines = [ln for ln in err.splitlines() if ln.strip() and "WARNING" not in ln]
    assert len(lines) == 1, err
    for n in names:
        assert n in lines[0], (n, lines[0])
    return lines[0]


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A 6-image 32x32 data set, a tinyunet checkpoint and its ONNX export (with sidecar)."""
    w = tmp_path_factory.mktemp("faults")
    data = Path(make_synthetic(w / "data", n=6, size=SIZE, seed=0, channels=1))
    torch.manual_seed(0)
    save_checkpoint(w / "model.pt", create_model("tinyunet", 1, 1), preprocess=Preprocess(SIZE, SIZE, 1).to_dict())
    onnx = Path(export_onnx(w / "model.pt", w / "model.onnx"))
    return {"w": w, "data": data, "ckpt": w / "model.pt", "onnx": onnx}


# ------------------------------------------------------------------------------------------------ full disk

@pytest.fixture
def disk(tmp_path: Path):
    """A real 16 MB tmpfs at tmp_path/disk; `fill(disk, leave)` then leaves `leave` bytes free."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs for the full-disk tests needs root (CI runs as root)")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mnt)], capture_output=True, text=True)
    if r.returncode:
        pytest.skip(f"cannot mount a tmpfs here ({r.stderr.strip() or r.returncode}); full-disk tests need one")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def fill(mnt: Path, leave: int = 0) -> None:
    """Fill the filesystem with a ballast file until ENOSPC, then give back `leave` bytes."""
    ballast = mnt / "ballast"
    with open(ballast, "ab", buffering=0) as f:
        for chunk in (1 << 20, 1 << 12, 1):
            try:
                while True:
                    f.write(b"\0" * chunk)
            except OSError as e:
                assert e.errno == errno.ENOSPC
    if leave:
        os.truncate(ballast, max(0, ballast.stat().st_size - leave))


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.name.endswith(".tmp"))


def test_export_on_a_full_disk_keeps_the_earlier_onnx(work: dict, disk: Path) -> None:
    out = disk / "m.onnx"
    out.write_bytes(work["onnx"].read_bytes())  # an earlier good export at the path, with its sidecar
    sidecar_path(out).write_bytes(sidecar_path(work["onnx"]).read_bytes())
    before, side = out.read_bytes(), sidecar_path(out).read_bytes()
    fill(disk)
    rc, err = run_cli(["export", str(work["ckpt"]), "--out", str(out), "--rewrites", "none"])  # a new key: rebuilt
    line = one_line(rc, err, str(out), "no space left", "free")
    assert "0 B is free" in line
    assert out.read_bytes() == before and sidecar_path(out).read_bytes() == side
    assert leftovers(disk) == []


def test_step_sidecar_on_a_full_disk_keeps_both_earlier_files(disk: Path) -> None:
    """The artifact fits, its sidecar does not: neither is renamed, the earlier pair is intact."""
    out = disk / "a.bin"
    step = build_step({"step": "t", "v": 1}, out, lambda k: out)
    with step.writing() as tmp:
        tmp.write_bytes(b"v1" * 1000)
    step.finish("test", {})
    fill(disk, leave=8192)
    step = build_step({"step": "t", "v": 2}, out, lambda k: out)
    with step.writing() as tmp:
        tmp.write_bytes(b"v2" * 2000)  # 4 KB: fits in the 8 KB left
    with pytest.raises(EdgesegError, match="no space left.*needs"):
        step.finish("test", {"padding": "x" * 20000})  # a 20 KB sidecar does not
    assert out.read_bytes() == b"v1" * 1000 and read_sidecar(out)["sha256"] == sha256_file(out)
    assert leftovers(disk) == []


def test_train_stops_when_it_cannot_save_last_pt(work: dict, disk: Path) -> None:
    out = disk / "run"
    best = len(work["ckpt"].read_bytes())  # weights only; last.pt adds the optimizer's state (about 2x more)
    fill(disk, leave=best + (256 << 10))  # room for split.json, metrics.json and best.pt, not for last.pt
    rc, err = run_cli(["train", "tinyunet", "--data", str(work["data"]), "--out", str(out), "--size", "32", "32",
                       "--batch", "2", "--quiet", "--no-augment", "--epochs", "3"])
    one_line(rc, err, str(out / "last.pt"), "no space left", "needs")
    assert not (out / "last.pt").exists() and not (out / "metrics.json").exists()  # stopped in epoch 1
    assert leftovers(disk) == []


def test_checkpoint_size_is_known_on_a_full_disk(disk: Path) -> None:
    fill(disk, leave=4096)
    with pytest.raises(EdgesegError, match=r"m\.pt: no space left.*it needs \d[\d.]* (KB|MB)"):
        save_checkpoint(disk / "m.pt", create_model("tinyunet", 1, 1), preprocess=None)
    assert leftovers(disk) == [] and not (disk / "m.pt").exists()


@pytest.mark.parametrize("what", ["calib", "predict", "eval-csv", "quantize-fp16"])
def test_writers_on_a_full_disk(work: dict, disk: Path, what: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDGESEG_CALIB_DIR", str(disk))
    d, onnx = str(work["data"]), str(work["onnx"])
    imgs = sorted(str(p) for p in (work["data"] / "images").iterdir())
    out = {"calib": disk / "c.json", "predict": disk / "pred", "eval-csv": disk / "per-image.csv",
           "quantize-fp16": disk / "m16.onnx"}[what]
    argv = {"calib": ["calib", "make", "--data", d, "--n", "2", "--size", "32", "32", "--name", "c"],
            "predict": ["predict", onnx, *imgs[:2], "--out", str(out)],
            "eval-csv": ["eval", onnx, "--data", d, "--no-progress", "--csv", str(out)],
            "quantize-fp16": ["quantize", onnx, "--fp16", "--out", str(out)]}[what]
    fill(disk)
    rc, err = run_cli(argv)
    one_line(rc, err, str(out), "no space left")
    assert leftovers(disk) == []
    assert not out.exists() or (out.is_dir() and not any(p.is_file() for p in out.rglob("*")))


def test_engine_on_a_full_disk(work: dict, disk: Path) -> None:
    from edgeseg import trt_compat as tc

    try:
        tc.import_trt("tensorrt-rtx")
    except EdgesegError as e:
        pytest.skip(f"TensorRT-RTX not installed: {e}")
    out = disk / "m.engine"
    fill(disk)
    rc, err = run_cli(["build-engine", str(work["onnx"]), "--backend", "tensorrt-rtx", "--out", str(out)])
    one_line(rc, err, str(out), "no space left")
    assert leftovers(disk) == [] and not out.exists()


def test_a_plot_on_a_full_disk(disk: Path) -> None:
    pytest.importorskip("matplotlib")
    from edgeseg.bench.optimize_report import write_bytes_atomic

    fill(disk)
    with pytest.raises(EdgesegError, match="plot.png: no space left"):
        write_bytes_atomic(disk / "plot.png", b"\x89PNG" + b"\0" * 50000)  # what every plot writer does


def test_quota_exceeded_is_the_same_one_line(tmp_path: Path) -> None:
    """EDQUOT: a real OSError as the kernel raises it (a tmpfs quota needs quota tools this image lacks)."""
    out = tmp_path / "x.onnx"
    out.write_bytes(b"earlier")
    with pytest.raises(EdgesegError, match="x.onnx: disk quota exceeded"), atomic_path(out) as tmp:
        tmp.write_bytes(b"half")
        raise OSError(errno.EDQUOT, os.strerror(errno.EDQUOT), str(tmp))
    assert out.read_bytes() == b"earlier" and sorted(p.name for p in tmp_path.iterdir()) == ["x.onnx"]


# --------------------------------------------------------------------------------------------- hostile images

def _png_header_only(w: int, h: int) -> bytes:
    """A PNG that declares w x h gray pixels but holds one compressed row: a decompression bomb's header."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")
    ihdr = w.to_bytes(4, "big") + h.to_bytes(4, "big") + bytes([8, 0, 0, 0, 0])
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * (w + 1)))
            + chunk(b"IEND", b""))


@pytest.fixture(scope="module")
def hostile(work: dict) -> dict[str, Path]:
    import tifffile

    d = work["w"] / "hostile"
    d.mkdir()
    rng = np.random.default_rng(0)
    gray = rng.integers(0, 256, (SIZE, SIZE), dtype=np.uint8)
    files = {"bomb": d / "bomb.png", "zero": d / "zero.png", "empty": d / "empty.png",
             "truncated": d / "truncated.png", "multiframe": d / "stack.tif", "nan": d / "nan.tif"}
    files["bomb"].write_bytes(_png_header_only(30000, 30000))
    files["zero"].write_bytes(_png_header_only(0, 32))
    files["empty"].write_bytes(b"")
    buf = io.BytesIO()
    Image.fromarray(gray).save(buf, format="PNG")
    files["truncated"].write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    frames = [Image.fromarray(gray) for _ in range(3)]
    frames[0].save(files["multiframe"], save_all=True, append_images=frames[1:])
    nan = rng.random((SIZE, SIZE)).astype(np.float32)
    nan[3, 3] = np.nan
    tifffile.imwrite(files["nan"], nan)
    return files


@pytest.mark.parametrize("name,says", [("bomb", "30000x30000"), ("zero", "not a readable"), ("empty", "not a readable"),
                                       ("truncated", "not a readable"), ("multiframe", "3 frames"),
                                       ("nan", "NaN")])
def test_hostile_image_is_refused_in_one_line(work: dict, hostile: dict, name: str, says: str, tmp_path: Path) -> None:
    out = tmp_path / "pred"
    rc, err = run_cli(["predict", str(work["onnx"]), str(hostile[name]), "--out", str(out)])
    one_line(rc, err, str(hostile[name]), says)
    assert not out.exists()


def test_hostile_mask_is_refused_in_one_line(hostile: dict) -> None:
    for name in ("bomb", "zero", "truncated", "multiframe"):
        with pytest.raises(EdgesegError, match=str(hostile[name])):
            read_mask(hostile[name])


def test_pixel_limit_is_configurable_and_stated_in_help(work: dict, tmp_path: Path) -> None:
    img = sorted((work["data"] / "images").iterdir())[0]
    rc, err = run_cli(["--max-pixels", "100", "predict", str(work["onnx"]), str(img), "--out", str(tmp_path / "p")])
    one_line(rc, err, str(img), "1,024 pixels", "--max-pixels")
    help_text = subprocess.run([sys.executable, "-m", "edgeseg", "--help"], capture_output=True, text=True,
                               env={**os.environ, "COLUMNS": "200"}).stdout
    assert "--max-pixels N" in help_text and "400,000,000" in help_text
    os.environ.pop("EDGESEG_MAX_PIXELS", None)  # main() set it for worker processes; later tests use the default


def test_documented_conversions(tmp_path: Path) -> None:
    import tifffile

    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
    Image.fromarray(rgb).convert("CMYK").save(tmp_path / "cmyk.jpg")
    assert read_image(tmp_path / "cmyk.jpg").shape == (8, 8, 3)  # CMYK -> RGB
    pal = Image.fromarray(rgb).convert("P", palette=Image.ADAPTIVE, colors=4)
    pal.save(tmp_path / "pal.png")
    assert read_image(tmp_path / "pal.png").shape == (8, 8, 3)  # palette image -> RGB
    assert set(np.unique(read_mask(tmp_path / "pal.png"))) <= {0, 1, 2, 3}  # palette mask -> its indices
    deep = (rng.integers(0, 4096, (8, 8))).astype(np.uint16)
    Image.fromarray(deep).save(tmp_path / "deep.tif")
    a = read_image(tmp_path / "deep.tif")
    assert a.dtype == np.uint8 and a.min() == 0 and a.max() == 255  # 16-bit -> 8-bit by its own range
    tifffile.imwrite(tmp_path / "float.tif", rng.random((8, 8, 3)).astype(np.float32), photometric="rgb")
    f = read_image(tmp_path / "float.tif")
    assert f.dtype == np.uint8 and f.shape == (8, 8, 3) and f.max() == 255  # float -> 8-bit
    Image.fromarray(np.full((8, 8), 300, np.uint16)).save(tmp_path / "m16.png")
    with pytest.raises(EdgesegError, match="values up to 300"):
        read_mask(tmp_path / "m16.png")


# ------------------------------------------------------------------------------------------ tampered artifacts

def test_changed_onnx_is_refused_before_use(work: dict, tmp_path: Path) -> None:
    bad = tmp_path / "m.onnx"
    data = bytearray(work["onnx"].read_bytes())
    data[len(data) // 2] ^= 0xFF  # one byte of a weight: still a valid graph, not the one its sidecar describes
    bad.write_bytes(bytes(data))
    sidecar_path(bad).write_bytes(sidecar_path(work["onnx"]).read_bytes())
    for argv in (["eval", str(bad), "--data", str(work["data"])],
                 ["quantize", str(bad), "--fp16", "--out", str(tmp_path / "q.onnx")],
                 ["predict", str(bad), str(next((work["data"] / "images").iterdir())), "--out", str(tmp_path / "p")]):
        rc, err = run_cli(argv)
        one_line(rc, err, str(bad), "changed since it was built", "rebuild with edgeseg export")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx", "m.onnx.json"]


def test_old_sidecar_without_sha_is_accepted_with_a_warning(work: dict, tmp_path: Path) -> None:
    old = tmp_path / "old.onnx"
    old.write_bytes(work["onnx"].read_bytes())
    meta = read_sidecar(work["onnx"])
    del meta["sha256"]
    sidecar_path(old).write_text(json.dumps(meta))
    rc, err = run_cli(["eval", str(old), "--data", str(work["data"]), "--no-progress"])
    assert rc == 0, err
    assert "WARNING" in err and "records no sha256" in err and str(old) in err


def test_hash_is_cached_by_size_mtime_inode(tmp_path: Path) -> None:
    """An unchanged file (same inode, size, mtime) is hashed once; any real change of those is hashed again."""
    f = tmp_path / "big.onnx"
    f.write_bytes(b"a" * 4096)
    past = os.stat(f).st_mtime_ns - 10 ** 10  # older than the racy window: cacheable
    os.utime(f, ns=(past, past))
    first = sha256_file(f)
    with open(f, "r+b") as fh:  # same inode and size; mtime put back: the cached hash is what comes back
        fh.write(b"b")
    os.utime(f, ns=(past, past))
    assert sha256_file(f) == first
    os.utime(f, ns=(past + 10 ** 9, past + 10 ** 9))  # the mtime moved: hashed again, the edit is seen
    assert sha256_file(f) != first


# ------------------------------------------------------------------------------------------------ foreign ONNX

def test_foreign_onnx_needs_its_preprocessing(work: dict, tmp_path: Path) -> None:
    foreign = tmp_path / "foreign.onnx"
    foreign.write_bytes(work["onnx"].read_bytes())  # no sidecar: an ONNX file from elsewhere
    d = str(work["data"])
    rc, err = run_cli(["eval", str(foreign), "--data", d])
    one_line(rc, err, str(foreign), "no preprocessing recorded", "--mean", "--preprocess FILE.json")
    rc, err = run_cli(["eval", str(foreign), "--data", d, "--mean", "0.5", "--std", "0.5", "--no-progress", "--json"])
    assert rc == 0, err
    pp = tmp_path / "pp.json"
    pp.write_text(json.dumps({"mean": [0.5], "std": [0.5]}))
    rc2, err = run_cli(["predict", str(foreign), *sorted(str(p) for p in (work["data"] / "images").iterdir())[:1],
                        "--out", str(tmp_path / "p"), "--preprocess", str(pp), "--foreground", "255"])
    assert rc2 == 0, err
    pp.write_text(json.dumps({"mean": [0.5], "std": [0.0]}))
    rc, err = run_cli(["eval", str(foreign), "--data", d, "--preprocess", str(pp)])
    one_line(rc, err, "--std", "above 0")
    rc, err = run_cli(["eval", str(foreign), "--data", d, "--mean", "0.1", "0.2"])
    one_line(rc, err, "--mean", "1 or 1")


def test_foreign_onnx_int8_records_the_given_preprocessing(work: dict, tmp_path: Path) -> None:
    foreign = tmp_path / "foreign.onnx"
    foreign.write_bytes(work["onnx"].read_bytes())
    calib = tmp_path / "c.json"
    make_calib(work["data"], 2, out=calib, size=(SIZE, SIZE))
    out = tmp_path / "q.onnx"
    rc, err = run_cli(["quantize", str(foreign), "--int8", "--calib", str(calib), "--out", str(out),
                       "--mean", "0.25", "--std", "0.5"])
    assert rc == 0, err
    assert read_sidecar(out)["preprocess"]["mean"] == [0.25]
