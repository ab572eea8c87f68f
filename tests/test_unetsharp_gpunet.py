"""GPU-Net / Ghost U-Net / UNet#: exact parameter counts, shapes, deep supervision, modes, pruning (the level
variants, level names, prune_to_level) and CGM."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from edgeseg.errors import EdgesegError
from edgeseg.models import create_model, get_model_info, list_models
from edgeseg.models.gpunet import GPModule
from edgeseg.models.unetsharp import prune_to_level
from edgeseg.names import level_model, level_name, level_of


def n_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def bn_eval(m: nn.Module) -> nn.Module:
    """Train-mode forward (list output) but BN on running stats, so it is comparable with eval()."""
    m.train()
    for mod in m.modules():
        if isinstance(mod, (nn.BatchNorm2d, nn.Dropout)):
            mod.eval()
    return m


@pytest.mark.parametrize(("name", "opts", "expected"), [
    ("gpunet", {}, 8_274_625),
    ("ghostunet", {}, 9_307_394),
    ("unetsharp", {"level": 1}, 103_041),
    ("unetsharp", {"level": 2}, 555_969),
    ("unetsharp", {"level": 3}, 2_531_073),
    ("unetsharp", {"level": 4}, 10_748_481),
    ("unetsharp", {}, 10_748_481),
    ("unetsharp", {"deep_supervision": True}, 10_757_224),
    ("unetsharp", {"mode": "accurate"}, 10_757_224),
    # L2 with both of its heads (X0,1 and X0,2): one extra 1x1 head of 33 params.
    ("unetsharp", {"level": 2, "deep_supervision": True}, 555_969 + 33),
    # CGM on X4,0: one 1x1 conv 512 -> 1 with bias.
    ("unetsharp", {"cgm": True}, 10_748_481 + 513),
])
def test_exact_param_counts(name: str, opts: dict, expected: int) -> None:
    assert n_params(create_model(name, **opts)) == expected


@pytest.mark.parametrize("name", ["gpunet", "ghostunet", "unetsharp"])
def test_registry_reference_params_match_the_built_network(name: str) -> None:
    info = get_model_info(name)
    assert info.size_multiple == 16
    assert n_params(create_model(name)) == info.reference_params


def test_gp_module_branches_and_slice() -> None:
    gp = GPModule(8, 64, ratio=6, aspp=True).eval()  # init = ceil(64/6) = 11 -> 66 channels -> keep 64
    convs = [op[0] for op in gp.cheap]
    assert [(c.kernel_size[0], c.dilation[0], c.groups) for c in convs] == [
        (3, 1, 11), (1, 1, 11), (3, 6, 11), (3, 12, 11), (3, 18, 11)]
    x = torch.randn(1, 8, 16, 16)
    with torch.no_grad():
        y = gp(x)
        x1 = gp.primary(x)
        full = torch.cat([x1, *(op(x1) for op in gp.cheap)], 1)
    assert y.shape == (1, 64, 16, 16)
    torch.testing.assert_close(y, full[:, :64])
    ghost = GPModule(8, 64, ratio=2, aspp=False)
    assert len(ghost.cheap) == 1 and ghost.primary[0].out_channels == 32


@pytest.mark.parametrize("name", ["gpunet", "ghostunet"])
@pytest.mark.parametrize("size", [(96, 96), (192, 256)])
def test_gpunet_forward_shapes(name: str, size: tuple[int, int]) -> None:
    m = create_model(name).eval()
    with torch.no_grad():
        assert m(torch.randn(1, 3, *size)).shape == (1, 1, *size)


def test_gpunet_other_channels_and_classes_and_backward() -> None:
    m = create_model("gpunet", in_channels=1, num_classes=2).train()
    y = m(torch.randn(2, 1, 32, 32))
    assert y.shape == (2, 2, 32, 32)
    y.square().mean().backward()  # in-place ReLUs + channel slice must stay differentiable
    assert m.encoders[0].ghost1.primary[0].weight.grad.abs().sum() > 0
    # The 2 channels sliced off the d18 branch of a 64-wide module never reach the output.
    assert m.encoders[0].ghost1.cheap[4][1].weight.grad[-2:].abs().sum() == 0


@pytest.mark.parametrize("level", [1, 2, 3, 4])
@pytest.mark.parametrize("size", [(96, 96), (192, 256)])
def test_unetsharp_levels_forward_shapes(level: int, size: tuple[int, int]) -> None:
    m = create_model("unetsharp", level=level).eval()
    with torch.no_grad():
        y = m(torch.randn(1, 3, *size))
    assert isinstance(y, torch.Tensor) and y.shape == (1, 1, *size)


@pytest.mark.parametrize(("level", "n_maps"), [(1, 1), (2, 2), (3, 3), (4, 8)])
def test_deep_supervision_list_in_train_one_tensor_in_eval(level: int, n_maps: int) -> None:
    m = create_model("unetsharp", num_classes=2, level=level, deep_supervision=True)
    x = torch.randn(2, 3, 32, 48)
    outs = m.train()(x)
    assert isinstance(outs, list) and len(outs) == n_maps
    assert all(o.shape == (2, 2, 32, 48) for o in outs)
    # The mean loss over branches reaches every head (paper: loss averaged over all branches).
    torch.stack([o.mean() for o in outs]).mean().backward()
    assert all(h.weight.grad is not None and h.weight.grad.abs().sum() > 0 for h in m.heads.values())
    with torch.no_grad():
        y = m.eval()(x)
    assert isinstance(y, torch.Tensor) and y.shape == (2, 2, 32, 48)


def test_accurate_is_mean_of_branches_and_differs_from_fast() -> None:
    torch.manual_seed(0)
    acc = create_model("unetsharp", deep_supervision=True, mode="accurate")
    fast = create_model("unetsharp", deep_supervision=True, mode="fast")
    fast.load_state_dict(acc.state_dict())
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        branches = bn_eval(acc)(x)
        y_acc = acc.eval()(x)
        y_fast = fast.eval()(x)
    assert len(branches) == 8
    torch.testing.assert_close(y_acc, torch.stack(branches).mean(0))
    torch.testing.assert_close(y_fast, branches[-1])  # fast = X0,4 head, last in the code's order
    assert (y_acc - y_fast).abs().max() > 1e-4


def test_pruned_level_loads_from_deep_supervised_full_model() -> None:
    """Embedded training: train L4 with deep supervision, then prune to L2; L2 needs no new weights."""
    full = create_model("unetsharp", deep_supervision=True)
    pruned = create_model("unetsharp", level=2)
    res = pruned.load_state_dict(full.state_dict(), strict=False)
    assert res.missing_keys == []
    assert any(k.startswith("nodes.x4_0") for k in res.unexpected_keys)
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(pruned.eval()(x), bn_eval(full)(x)[1])  # X0,2 branch of the full model


def test_cgm_gates_every_branch() -> None:
    torch.manual_seed(0)
    base = create_model("unetsharp", deep_supervision=True, mode="accurate")
    gated = create_model("unetsharp", deep_supervision=True, mode="accurate", cgm=True)
    missing = gated.load_state_dict(base.state_dict(), strict=False).missing_keys
    assert sorted(missing) == ["cgm.conv.bias", "cgm.conv.weight"]
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        y0 = base.eval()(x)
        assert (gated.eval()(x) - y0).abs().max() > 1e-3  # the classifier changes the output
        gated.cgm.conv.weight.zero_()
        gated.cgm.conv.bias.fill_(30.0)  # classifier: "present" (p ~ 1) -> branch unchanged
        torch.testing.assert_close(gated(x), y0)
        gated.cgm.conv.bias.fill_(-30.0)  # "absent" (p ~ 1e-13) -> every foreground probability ~ 0
        y_absent = gated(x)
        torch.testing.assert_close(y_absent, y0 + torch.nn.functional.logsigmoid(torch.tensor(-30.0)))
        assert torch.sigmoid(y_absent).max() < 1e-6
        assert all(torch.sigmoid(b).max() < 1e-6 for b in bn_eval(gated)(x))


def test_cgm_multiclass_leaves_background_channel() -> None:
    m = create_model("unetsharp", num_classes=3, level=2, cgm=True).eval()
    ref = create_model("unetsharp", num_classes=3, level=2).eval()
    ref.load_state_dict(m.state_dict(), strict=False)
    with torch.no_grad():
        m.cgm.conv.weight.zero_()
        m.cgm.conv.bias.fill_(-30.0)
        x = torch.randn(1, 3, 32, 32)
        y, y0 = m(x), ref(x)
    torch.testing.assert_close(y[:, :1], y0[:, :1])
    assert (y.argmax(1) == 0).all()


@pytest.mark.parametrize("opts", [{"level": 5}, {"level": 0}, {"mode": "slow"}])
def test_unetsharp_bad_options(opts: dict) -> None:
    with pytest.raises(EdgesegError):
        create_model("unetsharp", **opts)


@pytest.mark.parametrize(("name", "paper_gflops"), [("gpunet", 17.56), ("ghostunet", 18.78)])
def test_gpunet_reproduces_paper_flops_old_thop(name: str, paper_gflops: float) -> None:
    """GPU-Net Table 1 (ISIC, 3x192x256): "FLOPs" = old-thop MACs = conv (incl. bias) + 2 per BN element.

    MACs pin where each conv runs (resolution), which the parameter count alone does not.
    """
    m = create_model(name).eval().to("meta")  # shapes only: no arithmetic needed to count
    total = [0]

    def conv_hook(mod: nn.Conv2d, _inp: tuple, out: torch.Tensor) -> None:
        per_out = mod.in_channels // mod.groups * mod.weight[0, 0].numel() + (mod.bias is not None)
        total[0] += out.numel() * per_out

    def bn_hook(_mod: nn.Module, _inp: tuple, out: torch.Tensor) -> None:
        total[0] += 2 * out.numel()

    for mod in m.modules():
        if isinstance(mod, nn.Conv2d):
            mod.register_forward_hook(conv_hook)
        elif isinstance(mod, nn.BatchNorm2d):
            mod.register_forward_hook(bn_hook)
    with torch.no_grad():
        m(torch.zeros(1, 3, 192, 256, device="meta"))
    assert round(total[0] / 1e9, 2) == paper_gflops



# The levels as registered variants; the table names; prune_to_level.
LEVEL_PARAMS = {1: 103_041, 2: 555_969, 3: 2_531_073, 4: 10_748_481}  # MODELS.md section 5, 3->1, one head
BRANCH_OF_LEVEL = {1: 0, 2: 1, 3: 2, 4: 7}  # X0,L's place in the code's deep-supervision list


@pytest.mark.parametrize("level", [1, 2, 3, 4])
def test_level_variant_is_unetsharp_at_that_level(level: int) -> None:
    name = level_model(level)
    info = get_model_info(name)
    assert name in list_models() and name not in list_models(variants=False) and info.variant_of == "unetsharp"
    assert n_params(create_model(name)) == info.reference_params == LEVEL_PARAMS[level]
    torch.manual_seed(level)
    variant = create_model(name, deep_supervision=True)
    plain = create_model("unetsharp", level=level, deep_supervision=True)
    assert {k: v.shape for k, v in variant.state_dict().items()} == {k: v.shape for k, v in plain.state_dict().items()}
    plain.load_state_dict(variant.state_dict())
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(variant.eval()(x), plain.eval()(x))
        assert all(torch.equal(a, b) for a, b in zip(bn_eval(variant)(x), bn_eval(plain)(x), strict=True))
    with pytest.raises(EdgesegError, match="level=3 not accepted"):  # the name says the level
        create_model(name, level=3)


def test_level_names_round_trip() -> None:
    assert [level_name(k) for k in (1, 4)] == ["unetsharp-l1", "unetsharp-l4"]
    assert [level_model(k) for k in (1, 4)] == ["unetsharp_l1", "unetsharp_l4"]
    for k in (1, 2, 3, 4):
        assert level_of(level_name(k)) == level_of(level_model(k)) == k
    assert [level_of(n) for n in ("unetsharp", "unetsharp-l5", "unetsharp-l", "tinyunet", "UNETSHARP-L2")] == [None] * 5
    for bad in (0, 5, "2", 2.0, True):
        with pytest.raises(EdgesegError, match=f"got {bad!r}"):
            level_name(bad)


@pytest.mark.parametrize("level", [1, 2, 3, 4])
def test_prune_to_level_is_the_full_models_branch(level: int) -> None:
    """The nested relation: level L cut from a deep-supervised L4 answers with L4's X0,L branch, bit for bit."""
    torch.manual_seed(10 + level)
    full = create_model("unetsharp", num_classes=2, deep_supervision=True)
    for m in full.modules():  # non-trivial BN statistics, so a wrong buffer would show
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 2.0)
    x = torch.randn(2, 3, 32, 48)
    with torch.no_grad():
        branches = bn_eval(full)(x)
        for source in (full, full.state_dict()):
            pruned = prune_to_level(source, level)
            assert not pruned.training and pruned.level == level and not pruned.deep_supervision
            assert n_params(pruned) == LEVEL_PARAMS[level] + 33  # 2 classes: one more 1x1 head output (32 + 1)
            assert pruned.edgeseg_config["name"] == "unetsharp" and pruned.edgeseg_config["options"]["level"] == level
            assert torch.equal(pruned(x), branches[BRANCH_OF_LEVEL[level]])
    assert full.training  # the source is left as it was


def test_prune_to_level_refusals() -> None:
    full = create_model("unetsharp", deep_supervision=True)
    for bad in (0, 5, "3"):
        with pytest.raises(EdgesegError, match=f"got {bad!r}"):
            prune_to_level(full, bad)
    with pytest.raises(EdgesegError, match=r"level 2 weights missing .*heads\.x0_2"):  # fast L4: only the X0,4 head
        prune_to_level(create_model("unetsharp"), 2)
    with pytest.raises(EdgesegError, match="level 3 weights missing from the level-2 network"):
        prune_to_level(create_model("unetsharp", level=2, deep_supervision=True), 3)
    with pytest.raises(EdgesegError, match="CGM"):
        prune_to_level(create_model("unetsharp", deep_supervision=True, cgm=True), 2)
    with pytest.raises(EdgesegError, match="not a UNet#"):
        prune_to_level(create_model("tinyunet"), 2)
    with pytest.raises(EdgesegError, match="not a UNet#"):
        prune_to_level(create_model("tinyunet").state_dict(), 2)
