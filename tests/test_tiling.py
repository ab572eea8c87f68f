"""Sliding-window inference (edgeseg.tiling / edgeseg.native): exact blending, padding, batching, clear errors,
and the same logits from PyTorch and ONNX Runtime on a real image. Networks are tiny real torch modules run
through the real TorchRunner, or exported to ONNX and run through the real ONNX Runtime runner."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from edgeseg.data.preprocess import Preprocess
from edgeseg.errors import EdgesegError
from edgeseg.native import tile_size
from edgeseg.runtime.base import Runner, TensorMeta
from edgeseg.runtime.ort_runner import OnnxRuntimeRunner
from edgeseg.runtime.torch_runner import TorchRunner
from edgeseg.tiling import TileSpec, sliding_window, tile_count, window

CONST = np.float32(0.3)  # not a power of two: rounding in a plain weighted sum would show


class Const(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, :1] * 0 + float(CONST)


def identity(channels: int) -> nn.Module:
    """A 3x3 conv whose kernel is a centred delta per channel: the output is the input, padding included."""
    conv = nn.Conv2d(channels, channels, 3, padding=1, groups=channels, bias=False)
    with torch.no_grad():
        conv.weight.zero_()
        conv.weight[:, 0, 1, 1] = 1.0
    return conv.eval()


def to_onnx(model: nn.Module, path: Path, shape: tuple[int, int, int, int], dynamic_batch: bool) -> Path:
    axes = {"input": {0: "n"}, "logits": {0: "n"}} if dynamic_batch else None
    torch.onnx.export(model, (torch.zeros(shape),), str(path), input_names=["input"], output_names=["logits"],
                      dynamic_axes=axes, dynamo=False)
    return path


def image(c: int, h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((c, h, w)).astype(np.float32)


@pytest.mark.parametrize("blend", ["gaussian", "linear"])
def test_constant_network_gives_the_constant_within_one_ulp(blend: str, tmp_path: Path) -> None:
    x = image(3, 70, 53)  # not square, not a multiple of the tile
    spec = TileSpec(overlap=0.5, blend=blend, batch=4)
    with TorchRunner(Const()) as r:
        out = sliding_window(r, x, spec, tile=(32, 32))
    assert out.shape == (1, 70, 53) and out.dtype == np.float32
    assert np.max(np.abs(out - CONST)) <= np.spacing(CONST)
    onnx = to_onnx(Const(), tmp_path / "c.onnx", (1, 3, 32, 32), dynamic_batch=True)
    with OnnxRuntimeRunner(onnx, threads=1) as r:
        out = sliding_window(r, x, spec)  # tile = the ONNX's fixed 32x32 input
    assert np.max(np.abs(out - CONST)) <= np.spacing(CONST)


def test_identity_network_with_overlap_reproduces_the_input(tmp_path: Path) -> None:
    x = image(2, 77, 50, seed=1)
    for spec in (TileSpec(overlap=0.5), TileSpec(overlap=0.3, blend="linear", pad="constant")):
        with TorchRunner(identity(2)) as r:
            out = sliding_window(r, x, spec, tile=(24, 24))
        np.testing.assert_allclose(out, x, atol=1e-5, rtol=0)
    # a fixed batch of 3 (the last chunk of tiles is zero-padded) through ONNX Runtime
    onnx = to_onnx(identity(2), tmp_path / "id.onnx", (3, 2, 24, 24), dynamic_batch=False)
    with OnnxRuntimeRunner(onnx, threads=1) as r:
        n = tile_count((77, 50), (24, 24), TileSpec(overlap=0.5))
        assert n % 3 != 0  # so the padded chunk is exercised
        out = sliding_window(r, x, TileSpec(overlap=0.5))
    np.testing.assert_allclose(out, x, atol=1e-5, rtol=0)


class TileIndexRunner(Runner):
    """Batch-1 numpy network that answers tile number t with the one-hot e_t at every pixel: the blended
    output at a pixel is then exactly the vector of the tiles' normalised weights there."""

    backend = "numpy"

    def __init__(self, n: int, tile: tuple[int, int]) -> None:
        super().__init__("tile-index")
        self.n, self.tile, self.calls = n, tile, 0

    def activate_impl(self) -> None: ...

    def deactivate_impl(self) -> None: ...

    def input_metadata(self) -> dict[str, TensorMeta]:
        return {"x": TensorMeta("x", np.dtype(np.float32), (1, 1, *self.tile))}

    def output_names(self) -> list[str]:
        return ["y"]

    def infer_impl(self, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        y = np.zeros((1, self.n, *self.tile), np.float32)
        y[0, self.calls] = 1.0
        self.calls += 1
        return {"y": y}


@pytest.mark.parametrize("blend", ["gaussian", "linear"])
def test_blending_weights_sum_to_one_at_every_pixel(blend: str) -> None:
    tile, hw = (16, 20), (45, 61)
    spec = TileSpec(overlap=0.4, blend=blend)
    n = tile_count(hw, tile, spec)
    assert n > 4
    with TileIndexRunner(n, tile) as r:
        w = sliding_window(r, np.zeros((1, *hw), np.float32), spec)
        assert r.calls == n
    assert w.min() >= 0
    np.testing.assert_allclose(w.sum(0), 1.0, atol=1e-6)
    # every tile contributes somewhere, and overlapping pixels really are blended
    assert (w.max(axis=(1, 2)) > 0).all() and ((w > 1e-3).sum(0) > 1).any()
    win = window(tile, blend, spec.overlap_px(tile))
    assert win.min() > 0 and win[8, 10] == win.max() and win[0, 0] < win[8, 10]


def test_image_smaller_than_a_tile(tmp_path: Path) -> None:
    x = image(1, 10, 7, seed=2)
    for pad in ("reflect", "constant"):
        with TorchRunner(identity(1)) as r:
            out = sliding_window(r, x, TileSpec(pad=pad), tile=(32, 32))
        assert out.shape == (1, 10, 7)
        np.testing.assert_allclose(out, x, atol=1e-5, rtol=0)
    onnx = to_onnx(identity(1), tmp_path / "id1.onnx", (1, 1, 32, 32), dynamic_batch=False)
    with OnnxRuntimeRunner(onnx, threads=1) as r:
        np.testing.assert_allclose(sliding_window(r, image(1, 1, 40, seed=3), TileSpec()), image(1, 1, 40, seed=3),
                                   atol=1e-5, rtol=0)  # a one-pixel-high strip


def test_tile_size_the_network_cannot_take_is_a_clear_error(tmp_path: Path) -> None:
    from edgeseg.models import create_model

    torch.manual_seed(0)
    pp = Preprocess(64, 64, 3)
    with TorchRunner(create_model("ulite", 3, 1)) as r:
        assert tile_size(r, pp, TileSpec()) == (64, 64)
        with pytest.raises(EdgesegError, match=r"ulite needs tile height and width that are multiples of 32.*"
                                               r"got --tile 100x100\. Pass e\.g\. --tile 96x96"):
            tile_size(r, pp, TileSpec(tile=(100, 100)))
    onnx = to_onnx(identity(1), tmp_path / "f.onnx", (1, 1, 32, 32), dynamic_batch=True)
    with OnnxRuntimeRunner(onnx) as r:
        with pytest.raises(EdgesegError, match=r"takes 32x32 inputs \(fixed shape\) but --tile 48x48"):
            tile_size(r, Preprocess(32, 32, 1), TileSpec(tile=(48, 48)))
    with pytest.raises(EdgesegError, match="--overlap 1.0"):
        TileSpec(overlap=1.0)


def test_cli_rejects_a_tile_size_ulite_cannot_take(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from PIL import Image

    from edgeseg.checkpoint import save_checkpoint
    from edgeseg.cli import main
    from edgeseg.models import create_model

    torch.manual_seed(0)
    ckpt = tmp_path / "ulite.pt"
    save_checkpoint(ckpt, create_model("ulite", 1, 1), preprocess=Preprocess(32, 32, 1).to_dict())
    img = tmp_path / "a.png"
    Image.fromarray(np.zeros((40, 50), np.uint8)).save(img)
    assert main(["predict", str(ckpt), str(img), "--out", str(tmp_path / "o"), "--tile", "40x40"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "multiples of 32" in err[0] and "--tile 32x32" in err[0]
    assert not (tmp_path / "o").exists()


def test_onnx_runtime_and_pytorch_agree_on_a_real_image(tmp_path: Path, shared_data: Path) -> None:
    from edgeseg.checkpoint import save_checkpoint
    from edgeseg.data.dataset import read_image
    from edgeseg.export import export_onnx
    from edgeseg.models import create_model

    folder = shared_data / "kvasir-seg-900" / "images"
    if not folder.is_dir():
        pytest.skip(f"{folder} absent: the real data sets are not beside this checkout")
    img = read_image(sorted(folder.iterdir())[0])
    torch.manual_seed(0)
    pp = Preprocess(64, 64, 3)
    ckpt = tmp_path / "unet.pt"
    save_checkpoint(ckpt, create_model("unet", 3, 1, base=4), preprocess=pp.to_dict())
    onnx = export_onnx(ckpt, tmp_path / "unet.onnx", batch="dynamic")
    x = pp.image_native(img)
    spec = TileSpec(overlap=0.25, batch=8)
    with TorchRunner(ckpt) as r:
        a = sliding_window(r, x, spec, tile=(64, 64))
    with OnnxRuntimeRunner(onnx, threads=2) as r:
        b = sliding_window(r, x, spec)
    assert a.shape == (1, *img.shape[:2]) and img.shape[0] != img.shape[1]
    assert np.max(np.abs(a - b)) <= 1e-4
    assert np.std(a) > 0  # a real, non-constant network


def test_native_crop_training_is_recorded_and_eval_predict_tile_by_default(tmp_path: Path,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from PIL import Image

    from edgeseg.checkpoint import read_checkpoint
    from edgeseg.cli import main
    from edgeseg.data.dataset import LabelMap, SegFolder
    from edgeseg.data.synth import make_synthetic
    from edgeseg.data.torchdata import NativeCrops
    from edgeseg.train import train

    data = make_synthetic(tmp_path / "d", n=12, size=48, seed=4)
    Image.open(data / "images" / "synth_000.png").resize((20, 28)).save(data / "images" / "synth_000.png")
    Image.open(data / "masks" / "synth_000.png").resize((20, 28), Image.NEAREST).save(data / "masks" / "synth_000.png")
    # the crops: seeded per (seed, epoch, index), native scale, an image smaller than the crop padded
    folder = SegFolder(data)
    pp = Preprocess(32, 32, 1, native_scale=True)
    lm = LabelMap(((0, 0), (255, 1)), 1)
    ds = NativeCrops(folder.samples[:3], pp, lm, seed=7, random=True)
    a, b = ds[1], ds[1]
    ds.set_epoch(1)
    assert torch.equal(a[0], b[0]) and a[0].shape == (1, 32, 32) and ds[0][0].shape == (1, 32, 32)
    assert not torch.equal(a[0], ds[1][0])  # a new crop next epoch
    assert set(np.unique(ds[0][1].numpy())) <= {0, 1}
    val = NativeCrops(folder.samples[:3], pp, lm, seed=7)
    assert val.images.shape == (3, 1, 32, 32) and np.array_equal(val.images, NativeCrops(folder.samples[:3], pp, lm,
                                                                                          seed=7).images)

    train(tmp_path / "run", model="unet", data=str(data), size=(32, 32), epochs=1, batch=4,
          model_options={"base": 4}, native_crop=True, quiet=True)
    ckpt = tmp_path / "run" / "best.pt"
    payload = read_checkpoint(ckpt)
    assert payload["preprocess"]["native_scale"] is True and payload["train"]["native_crop"] is True
    assert main(["eval", str(ckpt), "--data", str(data), "--split", "all", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["inference"] == "tile" and res["resolution"] == "native" and res["tiling"]["tile"] == [32, 32]
    assert res["training_regime"] == "native-scale 32x32 crops" and res["ms_per_image"] > 0
    assert main(["eval", str(ckpt), "--data", str(data), "--split", "all", "--json", "--resize"]) == 0
    assert json.loads(capsys.readouterr().out)["inference"] == "resize"
    assert main(["predict", str(ckpt), str(data / "images" / "synth_000.png"), "--out", str(tmp_path / "p")]) == 0
    assert "inference tile" in capsys.readouterr().out
    assert np.asarray(Image.open(tmp_path / "p" / "masks" / "synth_000.png")).shape == (28, 20)
    assert np.asarray(Image.open(tmp_path / "p" / "overlays" / "synth_000.png")).shape == (28, 20, 3)


def test_resize_path_upsamples_like_torch_bilinear() -> None:
    import torch.nn.functional as F

    from edgeseg.native import upsample_bilinear

    small = image(2, 12, 9, seed=5)
    for size in ((37, 50), (12, 9), (13, 100)):
        want = F.interpolate(torch.from_numpy(small)[None], size=size, mode="bilinear", align_corners=False)[0]
        np.testing.assert_allclose(upsample_bilinear(small, size), want.numpy(), atol=1e-5, rtol=0)


def test_bench_reports_cost_per_full_image_beside_the_per_tile_figure(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from edgeseg.bench.schema import check
    from edgeseg.checkpoint import save_checkpoint
    from edgeseg.cli import main
    from edgeseg.data.synth import make_synthetic
    from edgeseg.export import export_onnx
    from edgeseg.models import create_model

    data = make_synthetic(tmp_path / "d", n=3, size=48, seed=1)
    torch.manual_seed(0)
    ckpt = tmp_path / "u.pt"
    save_checkpoint(ckpt, create_model("unet", 1, 1, base=4), preprocess=Preprocess(32, 32, 1).to_dict())
    onnx = export_onnx(ckpt, tmp_path / "u.onnx", batch=4)
    out = tmp_path / "b.json"
    assert main(["bench", "--onnx", str(onnx), "--batch", "4", "--threads", "1", "--iters", "2", "--warmup", "0",
                 "--no-isolate", "--image-size", "70", "90", "--tile", "--data", str(data), "--split", "all",
                 "--json", str(out)]) == 0
    table = capsys.readouterr().out
    doc = json.loads(out.read_text())
    check(doc)
    r = doc["results"][0]
    assert r["input_shape"] == [4, 1, 32, 32] and r["latency_ms"]["mean"] > 0  # the per-call (4 tiles) figure
    assert r["inference"] == "tile" and r["image_size"] == [70, 90] and r["tiles_per_image"] == 12
    assert r["image_ms"]["mean"] > 0 and r["images_per_s"] == pytest.approx(1e3 / r["image_ms"]["mean"])
    assert r["data_inference"] == "tile" and r["data_ms_per_image"] > 0 and 0 <= r["dice"] <= 1
    assert "ms/full img" in table and "70x90" in table
    # without the new options the row keeps its old meaning and the new keys are null
    assert main(["bench", "--onnx", str(onnx), "--batch", "4", "--iters", "1", "--warmup", "0", "--no-isolate",
                 "--json", str(out)]) == 0
    r = json.loads(out.read_text())["results"][0]
    assert r["images_per_s"] is None and r["data_ms_per_image"] is None and "ms/full img" not in capsys.readouterr().out
