"""One parameter / MAC counter for every network (the convention behind `edgeseg models`).

MAC convention (thop >= 0.1 style, per image, batch 1), measured with forward hooks on leaf modules:
* Conv1d/2d/3d: out_elements x (in_channels / groups) x kernel_elements, + out_elements if the conv has a bias.
* ConvTranspose1d/2d/3d: in_elements x (out_channels / groups) x kernel_elements, + out_elements for a bias.
* Linear: out_elements x in_features, + out_elements for a bias.
* BatchNorm / GroupNorm / InstanceNorm / LayerNorm: 2 per input element, x2 when affine (i.e. 4 for the
  usual affine norm), as thop >= 0.1 counts BN. Old thop (~0.0.31, used by GPU-Net's paper) counted
  2 per BN element: our GPU-Net figure is therefore ~0.6% above the paper's 17.56 G.
* Nothing for activations, pooling, dropout, nn.Upsample / F.interpolate (any mode), padding, concat,
  element-wise adds, slicing, or convs done through functional calls (e.g. TinyU-Net's fixed-filter bicubic
  upsampling, which stands in for F.interpolate and is not counted, exactly as thop ignores it).
FLOPs = 2 x MACs (one multiply + one add per MAC), as the TinyU-Net paper reports; GPU-Net's "GFLOPs" are MACs.

The count runs on the `meta` device (shapes only, no arithmetic) and falls back to a real CPU forward
where an op has no meta kernel.

Model size: `size_mb_fp32` = 4 bytes x (all parameters + all floating-point buffers, e.g. BN running stats)
/ 1e6 -- the FP32 weight payload, not the serialized file size (which adds a small header).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

from edgeseg.errors import EdgesegError
from edgeseg.models.registry import check_input_size, create_model, get_model_info, list_models
from edgeseg.names import UNETSHARP, UNETSHARP_LEVELS, level_model, level_name, level_of

_NORMS = (nn.modules.batchnorm._BatchNorm, nn.GroupNorm, nn.modules.instancenorm._InstanceNorm, nn.LayerNorm)
_CONVS = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
_TCONVS = (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)


def count_params(model: nn.Module) -> int:
    """Trainable + frozen parameters (BN/GN affine included, running statistics excluded), as papers count."""
    return sum(p.numel() for p in model.parameters())


def size_mb_fp32(model: nn.Module) -> float:
    n = count_params(model) + sum(b.numel() for b in model.buffers() if b.is_floating_point())
    return n * 4 / 1e6


def _module_macs(m: nn.Module, inp: torch.Tensor, out: torch.Tensor) -> int:
    bias = getattr(m, "bias", None) is not None
    if isinstance(m, _CONVS):
        k = m.weight[0, 0].numel()
        return out.numel() * (m.in_channels // m.groups) * k + (out.numel() if bias else 0)
    if isinstance(m, _TCONVS):
        k = m.weight[0, 0].numel()
        return inp.numel() * (m.out_channels // m.groups) * k + (out.numel() if bias else 0)
    if isinstance(m, nn.Linear):
        return out.numel() * m.in_features + (out.numel() if bias else 0)
    if isinstance(m, _NORMS):
        affine = bool(getattr(m, "affine", False) or getattr(m, "elementwise_affine", False))
        return 2 * inp.numel() * (2 if affine else 1)
    return 0


def _run_counting(model: nn.Module, x: torch.Tensor) -> int:
    total = 0

    def hook(m: nn.Module, inputs: tuple[Any, ...], out: Any) -> None:
        nonlocal total
        if inputs and isinstance(inputs[0], torch.Tensor) and isinstance(out, torch.Tensor):
            total += _module_macs(m, inputs[0], out)

    handles = [m.register_forward_hook(hook) for m in model.modules()
               if isinstance(m, _CONVS + _TCONVS + _NORMS + (nn.Linear,))]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
    return int(total)


def count_macs(model: nn.Module, input_shape: Iterable[int]) -> int:
    """MACs of one forward pass on a (C, H, W) input (batch 1; a leading N is accepted and counted too).

    Counts in eval mode on a copy, so the caller's model (mode, device, weights) is untouched.
    """
    shape = tuple(int(s) for s in input_shape)
    if len(shape) == 3:
        shape = (1, *shape)
    m = copy.deepcopy(model).eval()
    try:
        return _run_counting(m.to("meta"), torch.empty(shape, device="meta"))
    except (NotImplementedError, RuntimeError):  # an op without a meta kernel: count on real tensors
        m = copy.deepcopy(model).eval().cpu()
        return _run_counting(m, torch.zeros(shape))


def _table_variants(name: str) -> list[tuple[str, str]]:
    """(row name, registry name) of a registry name's rows: UNet# gets one row per pruning level (its level
    variants), a level variant the row of its level."""
    if name == UNETSHARP:
        return [(level_name(k), level_model(k)) for k in UNETSHARP_LEVELS]
    k = level_of(name)
    return [(level_name(k) if k else name, name)]


def _rows_for(requested: str) -> list[tuple[str, str]]:
    """A registry name's rows, or the one row a table name (e.g. "unetsharp-l2") names."""
    if requested in list_models():
        return _table_variants(requested)
    rows = [r for n in list_models(variants=False) for r in _table_variants(n)]
    found = [r for r in rows if r[0] == requested]
    if not found:
        other = [r[0] for r in rows if r[0] not in list_models()]
        raise EdgesegError(f"unknown model {requested!r}; valid names: {', '.join(list_models())}, or a table row "
                           f"{', '.join(other)}")
    return found


def model_table(names: Iterable[str] | None = None, size: tuple[int, int] | None = None) -> list[dict[str, Any]]:
    """One row per network: params, MACs/FLOPs at its reference input (or H x W = `size`), FP32 size.

    Rows: name, params, macs, flops (= 2 x macs), input_shape [C, H, W], size_mb_fp32, reference_params,
    source, summary. `names` may hold registry names or table names such as "unetsharp-l2"; the default lists
    every network once (a registered variant is the row of its network, e.g. unetsharp_l2 is unetsharp-l2).
    """
    wanted = list_models(variants=False) if names is None else list(names)
    rows: list[dict[str, Any]] = []
    for requested in wanted:
        for row_name, registry_name in _rows_for(requested):
            info = get_model_info(registry_name)
            shown = get_model_info(info.variant_of or registry_name)  # a variant is described as its network
            c, h, w = info.reference_input
            if size is not None:
                h, w = size
                check_input_size(registry_name, h, w)
            model = create_model(registry_name)
            macs = count_macs(model, (c, h, w))
            rows.append({
                "name": row_name,
                "params": count_params(model),
                "macs": macs,
                "flops": 2 * macs,
                "input_shape": [c, h, w],
                "size_mb_fp32": round(size_mb_fp32(model), 3),
                "reference_params": info.reference_params,
                "source": shown.source,
                "summary": shown.summary,
            })
    return rows
