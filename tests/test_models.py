"""All registered networks: reference params/MACs, shapes, ONNX export vs ONNX Runtime, registry errors, CLI."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
import torch.nn.functional as F

from edgeseg.cli import main as cli_main
from edgeseg.errors import EdgesegError
from edgeseg.models import check_input_size, create_model, get_model_info, list_models
from edgeseg.models.counting import count_macs, count_params, model_table
from edgeseg.models.tinyunet import BicubicUpsample2x

# (registry name, create options, in_channels, num_classes, exact params from MODELS.md)
REFERENCE_PARAMS = [
    ("tinyunet", {}, 3, 1, 481_105),
    ("tinyunet", {}, 3, 2, 481_170),
    ("ulite", {}, 3, 1, 878_417),
    ("gpunet", {}, 3, 1, 8_274_625),
    ("ghostunet", {}, 3, 1, 9_307_394),
    ("sdunet", {}, 1, 1, 3_907_973),
    ("unetsharp", {"level": 1}, 3, 1, 103_041),
    ("unetsharp", {"level": 2}, 3, 1, 555_969),
    ("unetsharp", {"level": 3}, 3, 1, 2_531_073),
    ("unet", {}, 3, 1, 31_037_633),
]

# (name, input C x H x W, MODELS.md MACs): GPU-Net's paper "17.56 GFLOPs" are thop MACs; TinyU-Net 3.33 GFLOPs / 2.
REFERENCE_MACS = [
    ("gpunet", (3, 192, 256), 17.56e9),
    ("tinyunet", (3, 256, 256), 1.66e9),
    ("ulite", (3, 256, 256), 0.77e9),
    ("unet", (3, 256, 256), 48.2e9),
]


def _inputs(name: str) -> dict[str, tuple[int, int, int]]:
    info = get_model_info(name)
    return {"reference": info.reference_input, **info.paper_inputs}


@pytest.mark.parametrize(("name", "opts", "cin", "k", "expected"), REFERENCE_PARAMS,
                         ids=[f"{r[0]}{r[1].get('level', '')}-{r[2]}to{r[3]}" for r in REFERENCE_PARAMS])
def test_params_match_models_md(name: str, opts: dict, cin: int, k: int, expected: int) -> None:
    n = count_params(create_model(name, cin, k, **opts))
    assert abs(n - expected) <= 0.01 * expected, f"{name}: {n:,} params vs MODELS.md {expected:,}"


# The papers' own U-Net baselines (edgeseg/models/baselines.py): the counts each paper's ratios are against.
BASELINE_COUNTS = [
    ("unet_lee", 34_527_041, 49.10e9),  # GPU-Net Table 1: 34.53M, 49.10 G thop MACs at 3x192x256 (MODELS.md s1)
    ("unet_vgg", 7_852_545, None),      # UNet# Table 1: UNet 7.85M (no compute figure in the paper)
]


@pytest.mark.parametrize(("name", "params", "macs"), BASELINE_COUNTS, ids=[r[0] for r in BASELINE_COUNTS])
def test_paper_baselines_match_the_papers_counts(name: str, params: int, macs: float | None) -> None:
    info = get_model_info(name)
    model = create_model(name)
    assert count_params(model) == params == info.reference_params
    assert round(params / 1e6, 2) == {"unet_lee": 34.53, "unet_vgg": 7.85}[name]  # the paper's rounded figure
    if macs is not None:
        got = count_macs(model, info.reference_input)
        assert abs(got - macs) <= 0.01 * macs, f"{name}: {got / 1e9:.2f} G MACs vs {macs / 1e9:.2f} G"


@pytest.mark.parametrize("name", ["tinyunet", "ulite", "sdunet"])
def test_params_exact_for_part_a(name: str) -> None:
    info = get_model_info(name)
    assert count_params(create_model(name)) == info.reference_params


@pytest.mark.parametrize("name", list_models())
def test_registry_reference_params(name: str) -> None:
    info = get_model_info(name)
    assert info.reference_params is not None and info.source and info.summary
    assert count_params(create_model(name)) == info.reference_params


@pytest.mark.parametrize(("name", "shape", "expected"), REFERENCE_MACS, ids=[r[0] for r in REFERENCE_MACS])
def test_macs_match_models_md(name: str, shape: tuple[int, int, int], expected: float) -> None:
    macs = count_macs(create_model(name), shape)
    assert abs(macs - expected) <= 0.10 * expected, f"{name}: {macs / 1e9:.3f} G MACs vs {expected / 1e9:.2f} G"


def test_mac_counter_counts_conv_bias_and_norm_like_thop() -> None:
    m = torch.nn.Sequential(torch.nn.Conv2d(2, 4, 3, padding=1), torch.nn.BatchNorm2d(4), torch.nn.ReLU(),
                            torch.nn.Upsample(scale_factor=2), torch.nn.Conv2d(4, 4, 3, padding=1, groups=4,
                                                                              bias=False))
    hw = 5 * 7
    expected = (hw * 4 * 2 * 9 + hw * 4) + 4 * hw * 4 + (4 * hw) * 4 * 1 * 9
    assert count_macs(m, (2, 5, 7)) == expected
    assert m[0].weight.device.type == "cpu"  # counted on a copy


# Networks above this size run the reference/paper-size forward on the meta device (same shape logic, no
# arithmetic) to keep the suite fast on 2 cores; their real numerics are checked at 64x64 in the ONNX test.
REAL_FORWARD_MAX_PARAMS = 5_000_000


@pytest.mark.parametrize("name", list_models())
def test_forward_shapes_at_reference_and_paper_inputs(name: str) -> None:
    for label, (c, h, w) in _inputs(name).items():
        model = create_model(name, in_channels=c).eval()
        device = "cpu" if count_params(model) <= REAL_FORWARD_MAX_PARAMS else "meta"
        with torch.no_grad():
            y = model.to(device)(torch.randn(1, c, h, w, device=device))
        assert isinstance(y, torch.Tensor), f"{name} ({label}) must return one tensor in eval mode"
        assert tuple(y.shape) == (1, 1, h, w), f"{name} ({label}) {c}x{h}x{w}"


# the 31M baseline is the lead's; a registered variant (unetsharp_l<k>) builds its network's module
@pytest.mark.parametrize("name", [n for n in list_models(variants=False) if n != "unet"])
def test_train_step_reaches_every_parameter(name: str) -> None:
    m = get_model_info(name).size_multiple
    model = create_model(name, num_classes=2).train()
    out = model(torch.randn(2, get_model_info(name).reference_input[0], m, m))
    outs = out if isinstance(out, list) else [out]
    sum(o.float().square().mean() for o in outs).backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert not missing, f"{name}: no gradient for {missing[:5]}"


def _export(model: torch.nn.Module, x: torch.Tensor, path: str) -> onnx.ModelProto:
    torch.onnx.export(model, (x,), path, opset_version=17, input_names=["input"], output_names=["logits"],
                      dynamo=False)
    return onnx.load(path)


@pytest.mark.parametrize("name", list_models(variants=False))
def test_onnx_export_matches_pytorch(name: str, tmp_path) -> None:
    info = get_model_info(name)
    side = max(64, info.size_multiple)
    torch.manual_seed(0)
    model = create_model(name).eval()
    x = torch.randn(1, info.reference_input[0], side, side)
    with torch.no_grad():
        expected = model(x).numpy()
    export_model = copy.deepcopy(model)
    if hasattr(export_model, "fold_for_export"):
        export_model.fold_for_export()
    graph = _export(export_model, x, str(tmp_path / f"{name}.onnx"))
    ops = {n.op_type for n in graph.graph.node}
    if name == "tinyunet":
        assert "Resize" not in ops, "TinyU-Net must not export the slow cubic Resize"
    if name == "sdunet":  # WS folded: every Conv weight is a stored tensor, not computed in the graph
        inits = {i.name for i in graph.graph.initializer} | {n.output[0] for n in graph.graph.node
                                                              if n.op_type == "Constant"}
        computed = [n.name for n in graph.graph.node if n.op_type == "Conv" and n.input[1] not in inits]
        assert not computed, f"weight standardization left in the graph: {computed[:3]}"
    assert [i.name for i in graph.graph.input] == ["input"] and [o.name for o in graph.graph.output] == ["logits"]
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    sess = ort.InferenceSession(str(tmp_path / f"{name}.onnx"), opts, providers=["CPUExecutionProvider"])
    got = sess.run(None, {"input": x.numpy()})[0]
    assert got.shape == expected.shape
    assert np.abs(got - expected).max() <= 1e-4


@pytest.mark.parametrize(("h", "w"), [(3, 5), (8, 8), (12, 16), (1, 1), (7, 2)])
def test_bicubic_conv_equals_interpolate(h: int, w: int) -> None:
    torch.manual_seed(h * 100 + w)
    for c in (1, 3, 8):
        x = torch.randn(2, c, h, w) * 10
        ref = F.interpolate(x, scale_factor=2, mode="bicubic", align_corners=False)
        got = BicubicUpsample2x(c)(x)
        assert got.shape == ref.shape
        assert (got - ref).abs().max().item() <= 1e-5 * max(1.0, x.abs().max().item() / 10)


def test_tinyunet_upsample_modes_agree() -> None:
    torch.manual_seed(0)
    fast = create_model("tinyunet").eval()
    slow = create_model("tinyunet", upsample="interpolate").eval()
    slow.load_state_dict(fast.state_dict())
    x = torch.randn(1, 3, 32, 48)
    with torch.no_grad():
        assert (fast(x) - slow(x)).abs().max().item() <= 1e-5
    with pytest.raises(ValueError, match="interpolate"):
        create_model("tinyunet", upsample="bilinear")


@pytest.mark.parametrize("ws", ["channel", "layer", "none"])
def test_sdunet_fold_for_export_keeps_outputs(ws: str) -> None:
    torch.manual_seed(0)
    model = create_model("sdunet", ws=ws).eval()
    x = torch.randn(1, 1, 32, 32)
    with torch.no_grad():
        before = model(x)
        folded = copy.deepcopy(model).fold_for_export()
        after = folded(x)
        again = folded.fold_for_export()(x)  # a second fold is a no-op
    assert (before - after).abs().max().item() <= 1e-5
    assert torch.equal(after, again)
    raw = model.enc[1][0][0].weight  # Block2's first depthwise kernel, as trained
    dw = folded.enc[1][0][0].weight  # ... and now standardized in the weights
    per_channel, whole = dw.flatten(1), dw.reshape(-1)
    if ws == "channel":  # every channel zero-mean, unit std: a high-pass filter each
        assert per_channel.mean(1).abs().max().item() < 1e-5 and (per_channel.std(1) - 1).abs().max().item() < 1e-3
    elif ws == "layer":  # one mean/std for the layer: channels keep their own DC gain
        assert abs(whole.mean().item()) < 1e-5 and abs(whole.std().item() - 1) < 1e-3
        assert per_channel.mean(1).abs().max().item() > 0.1
    else:
        assert torch.equal(dw, raw)


def test_sdunet_checkpoint_without_ws_loads_per_channel(tmp_path: Path) -> None:
    """A checkpoint from before the option existed was trained per channel and must keep that meaning."""
    from edgeseg.checkpoint import load_checkpoint, save_checkpoint

    model = create_model("sdunet", 1, 1, base=8, ws="channel")
    model.edgeseg_config = {**model.edgeseg_config, "options": {"base": 8}}  # as recorded before `ws`
    save_checkpoint(tmp_path / "old.pt", model)
    loaded, _ = load_checkpoint(tmp_path / "old.pt")
    assert loaded.enc[1][0][0].ws == "channel"
    from edgeseg.models.sdunet import DEFAULT_WS

    assert create_model("sdunet", 1, 1, base=8).edgeseg_config["options"]["ws"] == DEFAULT_WS  # recorded explicitly
    with pytest.raises(EdgesegError, match="ws="):
        create_model("sdunet", ws="kernel")


def test_unknown_model_lists_valid_names() -> None:
    with pytest.raises(EdgesegError) as e:
        create_model("no-such-net")
    for name in list_models():
        assert name in str(e.value)


def test_registry_named_factories_and_decorator() -> None:
    from edgeseg.models import registry

    for name in list_models():  # timm style: each network is a named factory function, no lambdas
        fn = get_model_info(name).factory
        assert fn.__name__ == name and fn.__doc__, name
    before = dict(registry._REGISTRY)
    try:
        @registry.register_model(summary="test net", reference_input=(1, 16, 16))
        def _probe_net(in_channels: int, num_classes: int, **kw):
            return torch.nn.Conv2d(in_channels, num_classes, 1, **kw)

        assert callable(_probe_net) and _probe_net.__name__ == "_probe_net"  # returned unchanged
        m = create_model("_probe_net")
        assert m.edgeseg_config == {"name": "_probe_net", "in_channels": 1, "num_classes": 1, "options": {}}
        assert get_model_info("_probe_net").summary == "test net"
        with pytest.raises(ValueError, match="registered twice"):
            registry.register_model(name="_probe_net", summary="x", reference_input=(1, 16, 16))(_probe_net)
        with pytest.raises(EdgesegError, match=r"_probe_net: option\(s\) bogus=1 not accepted"):
            create_model("_probe_net", bogus=1)
    finally:
        registry._REGISTRY.clear()
        registry._REGISTRY.update(before)


def test_ulite_rejects_sizes_not_multiple_of_32() -> None:
    with pytest.raises(EdgesegError, match="32"):
        check_input_size("ulite", 48, 64)
    with pytest.raises(EdgesegError, match="32"):
        create_model("ulite").eval()(torch.randn(1, 3, 48, 64))


def test_model_table_rows() -> None:
    rows = model_table(["tinyunet", "unetsharp-l2"], size=(32, 32))
    assert [r["name"] for r in rows] == ["tinyunet", "unetsharp-l2"]
    for r in rows:
        assert {"name", "params", "macs", "flops", "input_shape", "size_mb_fp32", "reference_params",
                "source"} <= set(r)
        assert r["flops"] == 2 * r["macs"] and r["input_shape"][1:] == [32, 32]
        assert r["params"] == r["reference_params"]
    assert [r["name"] for r in model_table(["unetsharp"], size=(32, 32))] == [f"unetsharp-l{i}" for i in range(1, 5)]
    with pytest.raises(EdgesegError, match="unetsharp-l1"):
        model_table(["unetsharp-l9"])
    with pytest.raises(EdgesegError, match="32"):
        model_table(["ulite"], size=(48, 48))


def test_cli_models_json_and_errors(capsys) -> None:
    assert cli_main(["models", "--json", "--model", "ulite", "--size", "64", "64"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["name"] == "ulite" and rows[0]["params"] == 878_417 and rows[0]["input_shape"] == [3, 64, 64]
    assert cli_main(["models", "--model", "tinyunet"]) == 0
    out = capsys.readouterr().out
    assert "FLOPs = 2 x MACs" in out and "tinyunet" in out and "481,105" in out
    assert cli_main(["models", "--model", "nope"]) == 2
    assert "valid names" in capsys.readouterr().err


def test_sdunet_groupnorm_export_form_is_accurate_in_onnxruntime(tmp_path) -> None:
    """SD-UNet's GroupNorm over a 256x256 map: ORT's single long reduction drifted ~8e-5 and failed the export
    check; the export form (row means, then their sum) must stay within 1e-5 of float64 after onnxsim."""
    from onnxsim import simplify

    from edgeseg.models.sdunet import ExportGroupNorm

    torch.manual_seed(0)
    x = torch.randn(1, 64, 256, 256) * 0.3 + 2.0
    gn = ExportGroupNorm(32, 64).eval().requires_grad_(False)
    ref = torch.nn.functional.group_norm(x.double(), 32, gn.weight.double(), gn.bias.double(), gn.eps).numpy()
    gn.short_reductions = True
    assert torch.allclose(gn(x), torch.nn.functional.group_norm(x, 32, gn.weight, gn.bias, gn.eps), atol=1e-5)
    path = tmp_path / "gn.onnx"
    torch.onnx.export(gn, (x,), str(path), opset_version=17, dynamo=False, input_names=["input"])
    model, ok = simplify(onnx.load(str(path)))
    assert ok
    y = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(
        None, {"input": x.numpy()})[0]
    assert np.abs(y - ref).max() < 1e-5
