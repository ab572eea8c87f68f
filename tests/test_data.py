"""Data folders, the generated default set, splits, mask mappings and bad input."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from edgeseg.cli import main
from edgeseg.data.augment import Augment
from edgeseg.data.dataset import SegFolder, check_channels, make_split, parse_foreground, read_image, read_mask
from edgeseg.data.synth import make_synthetic
from edgeseg.errors import EdgesegError


def _files(d: Path) -> dict[str, bytes]:
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


def test_synth_byte_identical_and_fast(tmp_path: Path) -> None:
    import time

    t = time.perf_counter()
    make_synthetic(tmp_path / "a", n=64, size=128, seed=3)
    assert time.perf_counter() - t < 10  # ~1 s alone; generous for 2 shared cores
    assert main(["data", "synth", str(tmp_path / "b"), "--n", "64", "--size", "128", "--seed", "3"]) == 0
    a, b = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert len(a) == 129 and a == b
    make_synthetic(tmp_path / "c", n=4, size=128, seed=4)
    assert _files(tmp_path / "c")["images/synth_000.png"] != a["images/synth_000.png"]
    m = np.asarray(Image.open(tmp_path / "a" / "masks" / "synth_000.png"))
    assert set(np.unique(m)) <= {0, 255} and 0.02 < (m > 0).mean() < 0.7
    assert "default_rng" in (tmp_path / "a" / "SOURCE.md").read_text()
    # rerun with the same args reuses; other args into the same folder refuse
    make_synthetic(tmp_path / "a", n=64, size=128, seed=3)
    with pytest.raises(EdgesegError, match="already exists"):
        make_synthetic(tmp_path / "a", n=8, size=128, seed=3)


def test_synth_rgb(tmp_path: Path) -> None:
    make_synthetic(tmp_path / "rgb", n=2, size=32, seed=0, channels=3)
    assert read_image(tmp_path / "rgb" / "images" / "synth_000.png").shape == (32, 32, 3)


def _pair(root: Path, stem: str, img: np.ndarray, mask: np.ndarray, ext: str = ".png") -> None:
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "masks").mkdir(parents=True, exist_ok=True)
    Image.fromarray(img).save(root / "images" / f"{stem}{ext}")
    Image.fromarray(mask).save(root / "masks" / f"{stem}.png")


def test_formats_and_pairing(tmp_path: Path) -> None:
    g = (np.arange(64).reshape(8, 8) * 4).astype(np.uint8)
    m = (g > 100).astype(np.uint8) * 255
    for i, ext in enumerate([".png", ".jpg", ".tif", ".bmp"]):
        _pair(tmp_path, f"s{i}", g, m, ext)
    f = SegFolder(tmp_path)
    assert f.stems == ["s0", "s1", "s2", "s3"]
    assert f.mask_values() == {0, 255}
    for s in f.samples:
        assert read_image(s.image).shape == (8, 8)


def test_unpaired_names_stems(tmp_path: Path) -> None:
    z = np.zeros((8, 8), np.uint8)
    _pair(tmp_path, "a", z, z)
    Image.fromarray(z).save(tmp_path / "images" / "lonely.png")
    Image.fromarray(z).save(tmp_path / "masks" / "orphan.png")
    with pytest.raises(EdgesegError, match="lonely.*orphan"):
        SegFolder(tmp_path)


def test_empty_and_missing_folders(tmp_path: Path) -> None:
    with pytest.raises(EdgesegError, match="no images/ folder"):
        SegFolder(tmp_path)
    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    with pytest.raises(EdgesegError, match="empty"):
        SegFolder(tmp_path)


def test_non_image_and_unreadable(tmp_path: Path) -> None:
    z = np.zeros((8, 8), np.uint8)
    _pair(tmp_path, "a", z, z)
    (tmp_path / "images" / "notes.txt").write_text("hi")
    with pytest.raises(EdgesegError, match="notes.txt: not an image file"):
        SegFolder(tmp_path)
    (tmp_path / "images" / "notes.txt").unlink()
    (tmp_path / "images" / "a.png").write_bytes(b"not a png at all")
    with pytest.raises(EdgesegError, match=r"a\.png: not a readable image"):
        read_image(tmp_path / "images" / "a.png")


def test_mask_values(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    _pair(tmp_path, "a", np.zeros((16, 16), np.uint8), rng.integers(0, 256, (16, 16), dtype=np.uint8))
    with pytest.raises(EdgesegError, match=r"masks/a\.png: mask has \d+ distinct values"):
        SegFolder(tmp_path).mask_values()
    lm = parse_foreground("auto", {0, 255})
    with pytest.raises(EdgesegError, match=r"x\.png: mask has unexpected values \[128\]"):
        lm.apply(np.array([[0, 128, 255]], np.uint8), "x.png")


def test_foreground_mappings() -> None:
    raw = np.array([[0, 255]], np.uint8)
    assert parse_foreground(None, {0, 255}).apply(raw, "m").tolist() == [[0, 1]]
    inv = parse_foreground("invert", {0, 255})
    assert inv.apply(raw, "m").tolist() == [[1, 0]] and inv.binary and inv.raw_value(1) == 0
    assert parse_foreground("auto", {0, 1}).apply(np.array([[0, 1]], np.uint8), "m").tolist() == [[0, 1]]
    lab = parse_foreground("auto", {0, 1, 2, 3})
    assert lab.num_classes == 4
    assert parse_foreground("0:1,255:0", {0, 255}).apply(raw, "m").tolist() == [[1, 0]]
    with pytest.raises(EdgesegError, match="--foreground"):
        parse_foreground("bogus", {0, 255})


def test_colour_image_to_gray_model(tmp_path: Path) -> None:
    rgb = np.zeros((4, 4, 3), np.uint8)
    rgb[..., 0] = 200
    with pytest.raises(EdgesegError, match="x.png: colour image but the model takes 1 channel"):
        check_channels(rgb, 1, "x.png")
    check_channels(np.repeat(np.full((4, 4, 1), 7, np.uint8), 3, -1), 1, "gray-as-rgb.png")  # fine
    check_channels(rgb, 3, "x.png")


def test_colour_mask_rejected(tmp_path: Path) -> None:
    m = np.zeros((4, 4, 3), np.uint8)
    m[0, 0] = (255, 0, 0)
    Image.fromarray(m).save(tmp_path / "m.png")
    with pytest.raises(EdgesegError, match="colour mask"):
        read_mask(tmp_path / "m.png")


def test_split_deterministic_and_disjoint() -> None:
    stems = [f"s{i:02d}" for i in range(30)]
    a, b = make_split(stems, seed=1), make_split(list(reversed(stems)), seed=1)
    assert a == b
    assert make_split(stems, seed=2) != a
    parts = [set(a[k]) for k in ("train", "val", "test")]
    assert sum(map(len, parts)) == 30 and len(set.union(*parts)) == 30
    assert len(a["val"]) == len(a["test"]) == 4


def test_augment_keeps_image_and_mask_aligned() -> None:
    img = np.zeros((1, 16, 16), np.float32)
    img[0, 2:6, 3:9] = 1.0
    mask = (img[0] > 0.5).astype(np.int64)
    aug = Augment(brightness=0, contrast=0, scale=0.1, shift=0.06)
    for seed in range(20):
        a, m = aug(img, mask, np.random.default_rng(seed))
        assert a.shape == (1, 16, 16) and m.shape == (16, 16)
        assert np.mean((a[0] > 0.5) == (m == 1)) > 0.9


def test_cli_bad_input_one_line(tmp_path: Path) -> None:
    (tmp_path / "d" / "images").mkdir(parents=True)
    r = subprocess.run([sys.executable, "-m", "edgeseg", "train", "unet", "--data", str(tmp_path / "d"),
                        "--out", str(tmp_path / "run")], capture_output=True, text=True)
    assert r.returncode == 2
    assert r.stderr.startswith("edgeseg: error: ") and r.stderr.count("\n") == 1
    assert not (tmp_path / "run").exists()
