"""Calibration manifests: deterministic stratified selection, hashes verified, clear errors, nothing half-written."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edgeseg.calib import calib_batches, load_calib, make_calib
from edgeseg.errors import EdgesegError


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    from edgeseg.data.synth import make_synthetic

    return make_synthetic(tmp_path_factory.mktemp("d") / "synth", n=12, size=48, seed=0, channels=1)


def test_make_is_deterministic_and_stratified(data: Path, tmp_path: Path) -> None:
    a = make_calib(data, n=4, out=tmp_path / "a.json", size=(32, 32), seed=5)
    b = make_calib(data, n=4, out=tmp_path / "b.json", size=(32, 32), seed=5)
    ma, mb = json.loads(a.read_text()), json.loads(b.read_text())
    assert ma["images"] == mb["images"] and ma["seed"] == 5 and ma["selection"] == "stratified-by-foreground"
    fg = sorted(i["foreground"] for i in ma["images"])
    all_fg = sorted(float((np.asarray(__import__("PIL.Image").Image.open(p)) > 0).mean())
                    for p in sorted((data / "masks").iterdir()))
    assert fg[0] <= all_fg[2] and fg[-1] >= all_fg[-3]  # spans the foreground range, not the first N files
    assert ma["preprocess"]["height"] == 32 and ma["preprocess"]["channels"] == 1
    m = load_calib(a)
    xs = list(calib_batches(m))
    assert len(xs) == 4 and xs[0].shape == (1, 1, 32, 32) and xs[0].dtype == np.float32
    assert [x.shape for x in calib_batches(m, batch=2)] == [(2, 1, 32, 32)] * 2


def test_name_under_calib_dir(data: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    from edgeseg.cli import main

    monkeypatch.setenv("EDGESEG_CALIB_DIR", str(tmp_path / "calib"))
    assert main(["calib", "make", "--data", str(data), "--n", "3", "--name", "tiny", "--size", "32", "32"]) == 0
    assert (tmp_path / "calib" / "tiny.json").is_file()
    capsys.readouterr()
    assert main(["calib", "show", "tiny"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["verified"] and len(shown["images"]) == 3
    assert load_calib("tiny")["n"] == 3


def test_fewer_images_than_asked(data: Path, tmp_path: Path) -> None:
    with pytest.raises(EdgesegError, match=r"only 12 images, 50 asked"):
        make_calib(data, n=50, out=tmp_path / "c.json")
    assert not (tmp_path / "c.json").exists()


def test_changed_file_is_detected(tmp_path: Path, data: Path) -> None:
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(data, copy)
    m = make_calib(copy, n=3, out=tmp_path / "m.json", size=(32, 32))
    victim = copy / json.loads(m.read_text())["images"][1]["path"]
    victim.write_bytes(victim.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(EdgesegError, match=rf"{victim.name}.*sha256 mismatch"):
        load_calib(m)
    victim.unlink()
    with pytest.raises(EdgesegError, match=rf"{victim.name}.*missing"):
        load_calib(m)
    with pytest.raises(EdgesegError, match="no such calibration set"):
        load_calib(tmp_path / "nope.json")


def test_preprocess_from_checkpoint(data: Path, tmp_path: Path) -> None:
    from edgeseg.checkpoint import save_checkpoint
    from edgeseg.data.preprocess import Preprocess
    from edgeseg.models import create_model

    pre = Preprocess(32, 32, 3, (0.4,), (0.3,))
    save_checkpoint(tmp_path / "best.pt", create_model("tinyunet"), preprocess=pre.to_dict())
    m = json.loads(make_calib(data, n=2, out=tmp_path / "k.json", checkpoint=tmp_path / "best.pt").read_text())
    assert m["preprocess"] == pre.to_dict() and m["checkpoint_sha256"]
    assert next(calib_batches(load_calib(tmp_path / "k.json"))).shape == (1, 3, 32, 32)  # gray -> RGB


def test_checkpoint_split_keeps_test_images_out(data: Path, tmp_path: Path) -> None:
    """Calibrating from a trained run draws only on its training split: the images it is scored on stay unseen."""
    from edgeseg.checkpoint import save_checkpoint
    from edgeseg.data.preprocess import Preprocess
    from edgeseg.models import create_model

    stems = sorted(p.stem for p in (data / "images").iterdir())
    split = {"train": stems[:5], "val": stems[5:8], "test": stems[8:]}
    save_checkpoint(tmp_path / "best.pt", create_model("tinyunet", in_channels=1),
                    preprocess=Preprocess(32, 32, 1).to_dict(), extra={"split": split})
    m = json.loads(make_calib(data, n=4, out=tmp_path / "k.json", checkpoint=tmp_path / "best.pt").read_text())
    assert m["split"] == "train"
    assert {Path(i["path"]).stem for i in m["images"]} <= set(split["train"])
    with pytest.raises(EdgesegError, match="only 5 images in the checkpoint's train split"):
        make_calib(data, n=6, out=tmp_path / "k6.json", checkpoint=tmp_path / "best.pt")
    assert not (tmp_path / "k6.json").exists()
