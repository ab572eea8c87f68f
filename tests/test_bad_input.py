"""Bad input across every command: one line on stderr naming the file or value, exit 2, no traceback, nothing new.

Every case runs the real CLI (`edgeseg.cli.main`) on small files made once per module: a 6-image 32x32
synthetic data set, a tinyunet checkpoint and its ONNX export, a calibration manifest, and broken copies of
each. Most cases run in this process (stderr captured, SystemExit caught) to stay fast; the ones marked
`SUB` run `python -m edgeseg` in a fresh interpreter, to prove no traceback escapes the real entry point.
After each case the workspace (data, artifacts, cache, calib dir, output folder) lists exactly the files it
listed before.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from edgeseg.calib import make_calib
from edgeseg.checkpoint import FORMAT, save_checkpoint
from edgeseg.cli import main
from edgeseg.data.preprocess import Preprocess
from edgeseg.data.synth import make_synthetic
from edgeseg.export import export_onnx
from edgeseg.models import create_model

ROOT = Path(__file__).resolve().parents[1]
SIZE = 32


@dataclass(frozen=True)
class Case:
    id: str
    argv: list[str]  # "{W}" is replaced by the workspace path
    names: str  # the file or value the one line must name ("{W}" replaced too)
    sub: bool = False  # also run as `python -m edgeseg` in a subprocess


def _copy_data(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def _build_workspace(w: Path) -> None:
    data = make_synthetic(w / "data", n=6, size=SIZE, seed=0, channels=1)
    data = Path(data)
    stems = sorted(p.stem for p in (data / "images").iterdir())

    # data folders
    (w / "empty" / "images").mkdir(parents=True)
    (w / "empty" / "masks").mkdir()
    nomask = _copy_data(data, w / "nomask")
    (nomask / "masks" / f"{stems[0]}.png").unlink()
    sizes = _copy_data(data, w / "sizes")
    Image.fromarray(np.zeros((16, 16), np.uint8)).save(sizes / "masks" / f"{stems[1]}.png")
    stray = _copy_data(data, w / "stray")
    m = np.asarray(Image.open(stray / "masks" / f"{stems[2]}.png")).copy()
    m[0, 0] = 7
    Image.fromarray(m).save(stray / "masks" / f"{stems[2]}.png")
    badimg = _copy_data(data, w / "badimg")
    (badimg / "images" / f"{stems[3]}.png").write_bytes(b"not a png at all\x00\x01")
    (w / "garbage.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")

    # checkpoints
    f = w / "files"
    f.mkdir()
    torch.manual_seed(0)
    model = create_model("tinyunet", 1, 1)
    pp = Preprocess(SIZE, SIZE, 1).to_dict()
    save_checkpoint(f / "model.pt", model, preprocess=pp)
    blob = (f / "model.pt").read_bytes()
    (f / "garbage.pt").write_bytes(os.urandom(2048))
    (f / "truncated.pt").write_bytes(blob[: len(blob) // 2])
    other = create_model("tinyunet", 1, 3)  # 3 classes: the head's weights do not fit a 1-class tinyunet
    torch.save({"format": FORMAT, "model": model.edgeseg_config, "preprocess": pp,
                "state_dict": {k: v.detach() for k, v in other.state_dict().items()}}, f / "misfit.pt")
    torch.save({"format": FORMAT, "model": "tinyunet", "state_dict": [1, 2, 3]}, f / "wrongpickle.pt")
    torch.save([1, 2, 3], f / "list.pt")

    # ONNX files
    onnx = export_onnx(f / "model.pt", f / "model.onnx")
    ob = Path(onnx).read_bytes()
    side = (f / "model.onnx.json").read_bytes()
    (f / "garbage.onnx").write_bytes(os.urandom(4096))
    (f / "truncated.onnx").write_bytes(ob[: len(ob) // 2])
    (f / "truncated.onnx.json").write_bytes(side)
    for name, sidecar in (("badutf8", b"\xff\xfe\x00{bad"), ("notobject", b"[1, 2, 3]\n")):
        (f / f"{name}.onnx").write_bytes(ob)
        (f / f"{name}.onnx.json").write_bytes(sidecar)

    # engines
    (f / "garbage.engine").write_bytes(os.urandom(4096))
    (f / "listside.engine").write_bytes(os.urandom(4096))
    (f / "listside.engine.json").write_text("[]\n")

    # calibration manifests
    c = w / "calib"
    make_calib(data, 2, out=c / "good.json", size=(SIZE, SIZE))
    (c / "badjson.json").write_text("{not json")
    (c / "incomplete.json").write_text(json.dumps({"schema": "edgeseg-calib/1"}))
    chg = _copy_data(data, w / "calibdata")
    make_calib(chg, 2, out=c / "changed.json", size=(SIZE, SIZE))
    first = json.loads((c / "changed.json").read_text())["images"][0]["path"]
    with open(chg / first, "ab") as fh:
        fh.write(b"\x00")

    # output locations
    (w / "afile").write_text("a regular file\n")
    (w / "out").mkdir()
    (w / "cache").mkdir()


def _listing(w: Path) -> list[str]:
    return sorted(str(p.relative_to(w)) for p in w.rglob("*"))


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    w = tmp_path_factory.mktemp("bad")
    old = {k: os.environ.get(k) for k in ("EDGESEG_CACHE", "EDGESEG_CALIB_DIR")}
    os.environ["EDGESEG_CACHE"] = str(w / "cache")
    os.environ["EDGESEG_CALIB_DIR"] = str(w / "calib")
    _build_workspace(w)
    yield w
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


D, PT, ONNX, ENG = "{W}/data", "{W}/files/model.pt", "{W}/files/model.onnx", "{W}/files/garbage.engine"
OUT = "{W}/out"
CASES = [
    # ------------------------------------------------------------------------------------- data folders
    Case("train-data-missing", ["train", "tinyunet", "--data", "{W}/nope", "--out", OUT + "/run"], "{W}/nope"),
    Case("train-data-empty", ["train", "tinyunet", "--data", "{W}/empty", "--out", OUT + "/run"], "{W}/empty/images"),
    Case("train-images-without-masks", ["train", "tinyunet", "--data", "{W}/nomask", "--out", OUT + "/run"],
         "without a mask", sub=True),
    Case("train-mismatched-sizes", ["train", "tinyunet", "--data", "{W}/sizes", "--out", OUT + "/run",
                                    "--epochs", "1", "--quiet"], "{W}/sizes/masks/"),
    Case("train-stray-mask-value", ["train", "tinyunet", "--data", "{W}/stray", "--out", OUT + "/run",
                                    "--epochs", "1", "--quiet"], "{W}/stray/masks/", sub=True),
    Case("train-unreadable-image", ["train", "tinyunet", "--data", "{W}/badimg", "--out", OUT + "/run",
                                    "--epochs", "1", "--quiet"], "{W}/badimg/images/"),
    Case("eval-data-missing", ["eval", PT, "--data", "{W}/nope"], "{W}/nope"),
    Case("eval-unreadable-image", ["eval", PT, "--data", "{W}/badimg"], "{W}/badimg/images/"),
    Case("eval-mismatched-sizes", ["eval", PT, "--data", "{W}/sizes"], "{W}/sizes/masks/"),
    Case("calib-data-missing", ["calib", "make", "--data", "{W}/nope", "--n", "2", "--name", "x"], "{W}/nope"),
    Case("calib-data-empty", ["calib", "make", "--data", "{W}/empty", "--n", "2", "--name", "x"], "{W}/empty"),
    Case("calib-unreadable-image", ["calib", "make", "--data", "{W}/badimg", "--n", "6", "--name", "x"],
         "{W}/badimg/images/"),
    Case("predict-unreadable-image", ["predict", PT, "{W}/garbage.png", "--out", OUT + "/pred"], "{W}/garbage.png"),
    Case("synth-out-not-empty", ["data", "synth", "{W}/files", "--n", "2", "--size", "32"], "{W}/files"),
    # -------------------------------------------------------------------------------------- checkpoints
    Case("eval-garbage-checkpoint", ["eval", "{W}/files/garbage.pt", "--data", D], "{W}/files/garbage.pt"),
    Case("eval-truncated-checkpoint", ["eval", "{W}/files/truncated.pt", "--data", D], "{W}/files/truncated.pt"),
    Case("eval-misfit-checkpoint", ["eval", "{W}/files/misfit.pt", "--data", D], "{W}/files/misfit.pt", sub=True),
    Case("eval-wrong-pickle", ["eval", "{W}/files/wrongpickle.pt", "--data", D], "{W}/files/wrongpickle.pt"),
    Case("eval-list-pickle", ["eval", "{W}/files/list.pt", "--data", D], "{W}/files/list.pt"),
    Case("export-garbage-checkpoint", ["export", "{W}/files/garbage.pt", "--out", OUT + "/m.onnx"],
         "{W}/files/garbage.pt"),
    Case("export-misfit-checkpoint", ["export", "{W}/files/misfit.pt", "--out", OUT + "/m.onnx"],
         "{W}/files/misfit.pt"),
    Case("build-engine-truncated-checkpoint", ["build-engine", "{W}/files/truncated.pt", "--out", OUT + "/m.engine"],
         "{W}/files/truncated.pt"),
    Case("calib-from-garbage-checkpoint", ["calib", "make", "--data", D, "--n", "2", "--name", "x",
                                           "--from-checkpoint", "{W}/files/garbage.pt"], "{W}/files/garbage.pt"),
    Case("predict-misfit-checkpoint", ["predict", "{W}/files/misfit.pt", "{W}/data/images/synth_000.png",
                                       "--out", OUT + "/pred"], "{W}/files/misfit.pt"),
    Case("bench-torch-wrong-pickle", ["bench", "--torch", "{W}/files/wrongpickle.pt", "--no-isolate",
                                      "--iters", "1", "--warmup", "0"], "{W}/files/wrongpickle.pt"),
    # ---------------------------------------------------------------------------------------- ONNX files
    Case("build-engine-garbage-onnx", ["build-engine", "{W}/files/garbage.onnx", "--out", OUT + "/m.engine"],
         "{W}/files/garbage.onnx", sub=True),
    Case("build-engine-truncated-onnx", ["build-engine", "{W}/files/truncated.onnx", "--out", OUT + "/m.engine"],
         "{W}/files/truncated.onnx"),
    Case("build-engine-fp16-truncated-onnx", ["build-engine", "{W}/files/truncated.onnx", "--fp16",
                                              "--out", OUT + "/m.engine"], "{W}/files/truncated.onnx"),
    Case("eval-garbage-onnx", ["eval", "{W}/files/garbage.onnx", "--data", D], "{W}/files/garbage.onnx"),
    Case("eval-truncated-onnx", ["eval", "{W}/files/truncated.onnx", "--data", D], "{W}/files/truncated.onnx"),
    Case("quantize-fp16-garbage-onnx", ["quantize", "{W}/files/garbage.onnx", "--fp16", "--out", OUT + "/q.onnx"],
         "{W}/files/garbage.onnx"),
    Case("quantize-int8-truncated-onnx", ["quantize", "{W}/files/truncated.onnx", "--int8", "--calib", "good",
                                          "--out", OUT + "/q.onnx"], "{W}/files/truncated.onnx"),
    Case("bench-garbage-onnx", ["bench", "--onnx", "{W}/files/garbage.onnx", "--no-isolate", "--iters", "1"],
         "{W}/files/garbage.onnx"),
    Case("bench-truncated-onnx", ["bench", "--onnx", "{W}/files/truncated.onnx", "--no-isolate", "--iters", "1"],
         "{W}/files/truncated.onnx"),
    Case("predict-truncated-onnx", ["predict", "{W}/files/truncated.onnx", "{W}/data/images/synth_000.png",
                                    "--out", OUT + "/pred"], "{W}/files/truncated.onnx"),
    # ------------------------------------------------------------------------------------------- engines
    Case("eval-garbage-engine", ["eval", ENG, "--data", D], ENG),
    Case("predict-garbage-engine", ["predict", ENG, "{W}/data/images/synth_000.png", "--out", OUT + "/pred"], ENG),
    Case("bench-garbage-engine", ["bench", "--engine", ENG, "--no-isolate", "--iters", "1"], ENG),
    Case("build-engine-from-engine", ["build-engine", ENG, "--out", OUT + "/m.engine"], ENG + ": already an engine"),
    # ------------------------------------------------------------------------------------------ sidecars
    Case("eval-sidecar-not-utf8", ["eval", "{W}/files/badutf8.onnx", "--data", D], "{W}/files/badutf8.onnx.json",
         sub=True),
    Case("eval-sidecar-not-object", ["eval", "{W}/files/notobject.onnx", "--data", D],
         "{W}/files/notobject.onnx.json"),
    Case("bench-sidecar-not-object", ["bench", "--onnx", "{W}/files/notobject.onnx", "--no-isolate", "--iters", "1"],
         "{W}/files/notobject.onnx.json"),
    Case("quantize-sidecar-not-utf8", ["quantize", "{W}/files/badutf8.onnx", "--fp16", "--out", OUT + "/q.onnx"],
         "{W}/files/badutf8.onnx.json"),
    Case("build-engine-sidecar-not-object", ["build-engine", "{W}/files/notobject.onnx", "--out", OUT + "/m.engine"],
         "{W}/files/notobject.onnx.json"),
    Case("eval-engine-sidecar-not-object", ["eval", "{W}/files/listside.engine", "--data", D],
         "{W}/files/listside.engine.json"),
    Case("bench-engine-sidecar-not-object", ["bench", "--engine", "{W}/files/listside.engine", "--no-isolate",
                                             "--iters", "1"], "{W}/files/listside.engine.json"),
    # ----------------------------------------------------------------------------- calibration manifests
    Case("quantize-calib-missing", ["quantize", ONNX, "--int8", "--calib", "nosuch", "--out", OUT + "/q.onnx"],
         "{W}/calib/nosuch.json"),
    Case("quantize-calib-bad-json", ["quantize", ONNX, "--int8", "--calib", "badjson", "--out", OUT + "/q.onnx"],
         "{W}/calib/badjson.json"),
    Case("quantize-calib-incomplete", ["quantize", ONNX, "--int8", "--calib", "incomplete", "--out",
                                       OUT + "/q.onnx"], "{W}/calib/incomplete.json"),
    Case("quantize-calib-image-changed", ["quantize", ONNX, "--int8", "--calib", "changed", "--out",
                                          OUT + "/q.onnx"], "{W}/calibdata/images/", sub=True),
    Case("calib-show-image-changed", ["calib", "show", "changed"], "{W}/calibdata/images/"),
    Case("calib-show-bad-json", ["calib", "show", "{W}/calib/badjson.json"], "{W}/calib/badjson.json"),
    Case("build-engine-calib-missing", ["build-engine", ONNX, "--int8", "--calib", "nosuch",
                                        "--out", OUT + "/m.engine"], "{W}/calib/nosuch.json"),
    # -------------------------------------------------------------------------------------- output paths
    Case("export-out-under-a-file", ["export", PT, "--out", "{W}/afile/m.onnx"], "{W}/afile", sub=True),
    Case("quantize-out-under-a-file", ["quantize", ONNX, "--fp16", "--out", "{W}/afile/q.onnx"], "{W}/afile"),
    Case("train-out-is-a-file", ["train", "tinyunet", "--data", D, "--out", "{W}/afile", "--epochs", "1",
                                 "--quiet"], "{W}/afile"),
    Case("predict-out-under-a-file", ["predict", PT, "{W}/data/images/synth_000.png", "--out", "{W}/afile/p"],
         "{W}/afile"),
    Case("eval-csv-under-a-file", ["eval", PT, "--data", D, "--csv", "{W}/afile/x.csv"], "{W}/afile"),
    Case("bench-json-under-a-file", ["bench", "--onnx", ONNX, "--no-isolate", "--iters", "1", "--warmup", "0",
                                     "--json", "{W}/afile/r.json"], "{W}/afile"),
    Case("calib-out-under-a-file", ["calib", "make", "--data", D, "--n", "2", "--name", "{W}/afile/c.json"],
         "{W}/afile"),
    Case("export-out-cannot-be-created", ["export", PT, "--out", "/proc/edgeseg-no/m.onnx"], "/proc/edgeseg-no"),
    Case("build-engine-out-cannot-be-created", ["build-engine", ONNX, "--out", "/proc/edgeseg-no/m.engine"],
         "/proc/edgeseg-no"),
    # ------------------------------------------------------------------------------------- option values
    Case("train-epochs-zero", ["train", "tinyunet", "--data", D, "--out", OUT + "/run", "--epochs", "0"], "--epochs"),
    Case("train-epochs-negative", ["train", "tinyunet", "--data", D, "--out", OUT + "/run", "--epochs", "-3"],
         "-3"),
    Case("train-batch-zero", ["train", "tinyunet", "--data", D, "--out", OUT + "/run", "--batch", "0"], "--batch"),
    Case("train-size-not-multiple", ["train", "tinyunet", "--data", D, "--out", OUT + "/run", "--size", "30", "30",
                                     "--epochs", "1", "--quiet"], "30x30"),
    Case("train-unknown-model", ["train", "nosuchnet", "--data", D, "--out", OUT + "/run"], "nosuchnet"),
    Case("train-bad-val-fraction", ["train", "tinyunet", "--data", D, "--out", OUT + "/run", "--val-fraction",
                                    "1.5", "--epochs", "1", "--quiet"], "1.5"),
    Case("train-zero-val-fraction", ["train", "tinyunet", "--data", D, "--out", OUT + "/run", "--val-fraction",
                                     "0", "--epochs", "1", "--quiet"], "--val-fraction"),
    Case("train-unknown-model-option", ["train", "tinyunet", "--data", D, "--out", OUT + "/run", "--opt",
                                        "bogus=1", "--epochs", "1", "--quiet"], "bogus"),
    Case("export-size-not-multiple", ["export", "tinyunet", "--size", "30", "30", "--out", OUT + "/m.onnx"],
         "30x30"),
    Case("export-unknown-model", ["export", "nosuchnet", "--out", OUT + "/m.onnx"], "nosuchnet"),
    Case("export-batch-zero", ["export", PT, "--batch", "0", "--out", OUT + "/m.onnx"], "--batch"),
    Case("eval-threads-zero", ["eval", PT, "--data", D, "--threads", "0"], "--threads"),
    Case("eval-threads-not-a-number", ["eval", PT, "--data", D, "--threads", "two"], "two", sub=True),
    Case("eval-batch-zero", ["eval", PT, "--data", D, "--batch", "0"], "--batch"),
    Case("bench-threads-zero", ["bench", "--onnx", ONNX, "--threads", "0"], "--threads"),
    Case("bench-iters-zero", ["bench", "--onnx", ONNX, "--iters", "0"], "--iters"),
    Case("quantize-negative-dice-drop", ["quantize", ONNX, "--int8", "--calib", "good", "--max-dice-drop", "-1",
                                         "--data", D, "--out", OUT + "/q.onnx"], "--max-dice-drop"),
    Case("quantize-dice-drop-without-data", ["quantize", ONNX, "--int8", "--calib", "good", "--max-dice-drop",
                                             "1", "--out", OUT + "/q.onnx"], "--data"),
    Case("quantize-int8-without-calib", ["quantize", ONNX, "--int8", "--out", OUT + "/q.onnx"], "--calib"),
    Case("build-engine-batch-zero", ["build-engine", "tinyunet", "--batch", "0", "--out", OUT + "/m.engine"],
         "--batch"),
    Case("build-engine-bad-shapes", ["build-engine", ONNX, "--shapes", "8:4:1", "--out", OUT + "/m.engine"],
         "8:4:1"),
    Case("build-engine-bad-compute-capability", ["build-engine", ONNX, "--compute-capability", "banana",
                                                 "--out", OUT + "/m.engine"], "banana"),
    Case("calib-n-zero", ["calib", "make", "--data", D, "--n", "0", "--name", "x"], "--n"),
    Case("calib-n-too-many", ["calib", "make", "--data", D, "--n", "99", "--name", "x"], "99"),
    Case("synth-n-zero", ["data", "synth", OUT + "/s", "--n", "0"], "--n"),
    Case("synth-size-zero", ["data", "synth", OUT + "/s", "--size", "0"], "--size"),
    Case("models-unknown", ["models", "--model", "nosuchnet"], "nosuchnet"),
    Case("claims-results-missing", ["claims", "--results", "{W}/nope", "--out", OUT + "/C.md"], "{W}/nope"),
]


def _fill(text: str, w: Path) -> str:
    return text.replace("{W}", str(w))


def _run_inprocess(argv: list[str]) -> tuple[int, str]:
    err, out = io.StringIO(), io.StringIO()
    with redirect_stderr(err), redirect_stdout(out):
        try:
            rc = main(argv)
        except SystemExit as e:  # argparse
            rc = e.code if isinstance(e.code, int) else 1
    return rc, err.getvalue()


def _run_subprocess(argv: list[str]) -> tuple[int, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    p = subprocess.run([sys.executable, "-m", "edgeseg", *argv], capture_output=True, text=True, env=env,
                       timeout=300, cwd=ROOT)
    return p.returncode, p.stderr


def _check(rc: int, err: str, names: str, w: Path, before: list[str]) -> None:
    after = _listing(w)
    for new in sorted(set(after) - set(before), reverse=True):  # keep the next cases independent of a failure
        p = w / new
        shutil.rmtree(p) if p.is_dir() else p.unlink(missing_ok=True)
    assert "Traceback" not in err, err
    assert rc == 2, (rc, err)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert names in lines[0], (names, lines[0])
    assert after == before, sorted(set(after) ^ set(before))


def test_corpus_size() -> None:
    assert len(CASES) >= 40
    assert len({c.id for c in CASES}) == len(CASES)
    commands = {c.argv[0] for c in CASES}
    assert commands >= {"models", "data", "train", "eval", "predict", "export", "calib", "quantize",
                        "build-engine", "bench", "claims"}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, workspace: Path) -> None:
    argv, names = [_fill(a, workspace) for a in case.argv], _fill(case.names, workspace)
    before = _listing(workspace)
    rc, err = _run_inprocess(argv)
    _check(rc, err, names, workspace, before)


@pytest.mark.parametrize("case", [c for c in CASES if c.sub], ids=[c.id for c in CASES if c.sub])
def test_bad_input_subprocess(case: Case, workspace: Path) -> None:
    argv, names = [_fill(a, workspace) for a in case.argv], _fill(case.names, workspace)
    before = _listing(workspace)
    rc, err = _run_subprocess(argv)
    _check(rc, err, names, workspace, before)
