"""`edgeseg.runtime.opener.open_artifact`: one opener for checkpoints, ONNX files and engines.

The engine here is a real TensorRT-RTX build (ahead of time, on the CPU); running it needs a GPU, so on a
machine without one `eval` / `predict` must stop with exit 2 and one line saying so.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from edgeseg import trt_compat as tc
from edgeseg.cli import main
from edgeseg.data.synth import make_synthetic
from edgeseg.runtime.cuda import gpu_info
from edgeseg.runtime.opener import artifact_meta, describe_artifact, open_artifact

trt = tc.import_trt("tensorrt-rtx")  # installed by the test command ([trt-rtx]); builds need no GPU


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    root = tmp_path_factory.mktemp("artifact")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EDGESEG_CACHE", str(root / "cache"))
        from edgeseg.export import export_onnx

        data = make_synthetic(root / "d", n=4, size=32, seed=1)
        onnx = export_onnx("tinyunet", root / "m.onnx", size=(32, 32), check=False)
        engine = root / "m.engine"
        assert main(["build-engine", str(onnx), "--backend", "tensorrt-rtx", "--out", str(engine)]) == 0
    return data, onnx, engine


def test_engine_meta_merges_its_onnx_sidecar(built: tuple[Path, Path, Path]) -> None:
    _, onnx, engine = built
    meta = artifact_meta(engine)
    assert meta["kind"] == "engine" and meta["onnx"]["path"] == str(onnx)  # the engine's own keys win
    assert meta["preprocess"]["height"] == 32 and meta["model"]["name"] == "tinyunet"  # from the ONNX sidecar
    info = describe_artifact(engine)
    assert info.kind == "engine" and info.preprocess is not None and info.preprocess.width == 32
    art = open_artifact(engine)
    assert art.kind == "engine" and art.runner.path == engine


def test_built_artifacts_respect_the_umask(built: tuple[Path, Path, Path]) -> None:
    from edgeseg.artifacts import current_umask, sidecar_path

    want = 0o666 & ~current_umask()  # 0644 under the default umask, not mkstemp's 0600
    for p in built[1:]:
        assert p.stat().st_mode & 0o777 == want and sidecar_path(p).stat().st_mode & 0o777 == want


@pytest.mark.skipif(gpu_info() is not None, reason="this machine has a GPU: the engine would run")
@pytest.mark.parametrize("cmd", ["eval", "predict"])
def test_eval_predict_engine_without_gpu_exit_2(built: tuple[Path, Path, Path], cmd: str, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    data, _, engine = built
    out = tmp_path / "pred"
    argv = ["eval", str(engine), "--data", str(data)] if cmd == "eval" else \
        ["predict", str(engine), str(next((data / "images").iterdir())), "--out", str(out)]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no NVIDIA GPU" in err[0] and str(engine) in err[0], err
    assert not out.exists()  # nothing half-written
