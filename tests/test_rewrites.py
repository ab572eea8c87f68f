"""Export-time rewrites (edgeseg.rewrites): each equals the PyTorch module it replaces (float32, <= 1e-5 of the
output range), and the ones aimed at ONNX Runtime's blocked layout reduce the reorders in its optimized graph."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from edgeseg.errors import EdgesegError
from edgeseg.models import create_model
from edgeseg.rewrites import (
    BICUBIC_FORMS,
    BicubicUpsample2xFast,
    apply_rewrites,
    bicubic_nearest_kernel,
    bicubic_transposed_kernel,
    nchwc_block_size,
    parse_rewrites,
    reorder_report,
)


def _randomize_norms(model: nn.Module, seed: int = 0) -> nn.Module:
    """Trained-looking BN/GN statistics and affine weights (random init has mean 0, var 1, gamma 1, beta 0)."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
            m.weight.data = 1 + 0.3 * torch.randn(m.weight.shape, generator=g)
            m.bias.data = 0.2 * torch.randn(m.bias.shape, generator=g)
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.data = 0.2 * torch.randn(m.running_mean.shape, generator=g)
            m.running_var.data = 0.5 + torch.rand(m.running_var.shape, generator=g)
    return model.eval()


def _close(a: torch.Tensor, b: torch.Tensor) -> float:
    """max |a - b| relative to the range of a (the issue's criterion)."""
    return float((a - b).abs().max() / max(float(a.max() - a.min()), 1e-12))


def test_bicubic_kernels_are_the_issues() -> None:
    h = bicubic_nearest_kernel()
    assert h.tolist() == [-0.03515625, -0.0703125, 0.33203125, 0.546875, 0.33203125, -0.0703125, -0.03515625]
    g = bicubic_transposed_kernel()
    assert torch.allclose(torch.tensor([1.0, 1.0], dtype=torch.float64).new_tensor(
        np.convolve([1.0, 1.0], h.numpy())), g, atol=0, rtol=0)
    assert abs(float(g.sum()) - 2.0) < 1e-15  # two output samples per input sample: DC gain 2 over the taps


@pytest.mark.parametrize("form", BICUBIC_FORMS)
@pytest.mark.parametrize(("h", "w"), [(1, 1), (3, 5), (7, 2), (16, 12)])
def test_bicubic_forms_equal_interpolate(form: str, h: int, w: int) -> None:
    torch.manual_seed(h * 31 + w)
    x = torch.randn(2, 8, h, w) * 5
    ref = F.interpolate(x, scale_factor=2, mode="bicubic", align_corners=False)
    got = BicubicUpsample2xFast(8, form)(x)
    assert got.shape == ref.shape
    assert _close(ref, got) <= 1e-5
    x64 = x.double()  # float64: the forms are the same function, not an approximation
    ref64 = F.interpolate(x64, scale_factor=2, mode="bicubic", align_corners=False)
    assert float((BicubicUpsample2xFast(8, form).double()(x64) - ref64).abs().max()) < 1e-12


@pytest.mark.parametrize("spec", ["default", "cmrf-pad8,bicubic=pad-nearest-conv", "bicubic=convtranspose"])
def test_tinyunet_rewrites_equal_module(spec: str) -> None:
    torch.manual_seed(0)
    model = _randomize_norms(create_model("tinyunet"))
    fast, done = apply_rewrites(model, spec)
    assert {d["rewrite"] for d in done} >= {"bicubic"} and fast is not model
    x = torch.randn(2, 3, 32, 48)
    with torch.no_grad():
        ref, got = model(x), fast(x)
    assert _close(ref, got) <= 1e-5
    interp = _randomize_norms(create_model("tinyunet", upsample="interpolate"))
    _, done_i = apply_rewrites(interp, "default")
    assert "bicubic" not in {d["rewrite"] for d in done_i}  # the original interpolate option is left alone


def test_sdunet_groupnorm_rewrite_equals_module() -> None:
    torch.manual_seed(0)
    model = _randomize_norms(create_model("sdunet"))
    with torch.no_grad():
        x = torch.randn(2, 1, 32, 32)
        ref = model(x)
        model.fold_for_export()
        fast, done = apply_rewrites(model, "groupnorm-lean")
        got = fast(x)
    assert done == [{"rewrite": "groupnorm-lean", "modules": 9}]
    assert _close(ref, got) <= 1e-5


def test_parse_rewrites() -> None:
    assert parse_rewrites("none") == ((), "nearest-pad-conv")
    assert parse_rewrites("cmrf-split,cmrf-pad8,bicubic=convtranspose") == (("cmrf-pad8", "bicubic"), "convtranspose")
    with pytest.raises(EdgesegError, match="unknown rewrite 'gelu-tanh'"):
        parse_rewrites("gelu-tanh")
    with pytest.raises(EdgesegError, match="bicubic form"):
        parse_rewrites("bicubic=bilinear")


def _export(model: nn.Module, path, size: tuple[int, int]) -> None:
    """With the exporter export_onnx uses for TinyU-Net, so the counts are those of the shipped graph."""
    from edgeseg.names import DEFAULT_OPSET
    from edgeseg.onnx_exporter import exporter_for, to_onnx

    x = np.random.default_rng(0).standard_normal((1, 3, *size)).astype(np.float32)
    to_onnx(model, x, path, DEFAULT_OPSET, False, exporter_for("tinyunet")[0])


def test_tinyunet_rewrites_cut_nchwc_reorders(tmp_path) -> None:
    """Counted in ONNX Runtime's own optimized graph (ORT_ENABLE_ALL), not timed."""
    pytest.importorskip("onnxruntime")
    from edgeseg.export import _simplify

    torch.manual_seed(0)
    model = _randomize_norms(create_model("tinyunet"))
    counts = {}
    for spec in ("none", "default", "bicubic,cmrf-pad8"):
        m, _ = apply_rewrites(model, spec)
        p = tmp_path / f"{spec}.onnx"
        _export(m, p, (32, 32))
        _simplify(p)
        counts[spec] = reorder_report(p)
    none, default, pad8 = (counts[s] for s in ("none", "default", "bicubic,cmrf-pad8"))
    assert none["ops"].get("DepthToSpace") and not default["ops"].get("DepthToSpace")
    assert none["reorder_output_to"].get("Slice") and not default["reorder_output_to"].get("Slice")
    assert default["reorders"] < none["reorders"] / 2
    block = nchwc_block_size()  # what this CPU's ORT blocks by: 8 (AVX2) or 16 (AVX-512)
    assert block in (8, 16)
    if block == 8:  # padding the 64-channel CMRFs' pieces to 8 keeps their Concat blocked
        assert pad8["reorders"] < default["reorders"]
    else:  # a block of 16: pieces padded to 8 are still not multiples of the block, so nothing is gained
        assert pad8["reorders"] <= default["reorders"]
    assert "Erf" not in default["ops"]  # every GELU fused into ORT's Gelu op, the head's included
