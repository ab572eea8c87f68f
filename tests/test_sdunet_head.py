"""SD-UNet's output end: the zhixuhao 2-channel pre-head (default, our reading) and the paper's wording."""

from __future__ import annotations

import copy

import pytest
import torch

from edgeseg.errors import EdgesegError
from edgeseg.models import create_model
from edgeseg.models.sdunet import SeparableConv2d


def test_paper_head_ends_in_a_separable_prediction_layer():
    torch.manual_seed(0)
    ref = create_model("sdunet", in_channels=1, num_classes=1)
    paper = create_model("sdunet", in_channels=1, num_classes=1, head="paper")
    assert sum(p.numel() for p in ref.parameters()) == 3_907_973  # MODELS.md's count: the default is unchanged
    assert ref.prehead[0][-1].out_channels == 2 and isinstance(ref.head, torch.nn.Conv2d)
    # no 2-channel bottleneck: the pre-head keeps the block's 64 channels, the prediction layer is separable
    assert paper.prehead[0][-1].out_channels == 64 and isinstance(paper.head, SeparableConv2d)
    # 64-ch separable 3x3 (576 + 64*64 + 64) + separable prediction (576 + 64 + 1), minus the 2-channel end (709)
    assert sum(p.numel() for p in paper.parameters()) == 3_907_973 - 709 + 4_736 + 641
    x = torch.randn(1, 1, 64, 64)
    paper.eval()
    y = paper(x)
    assert y.shape == (1, 1, 64, 64)
    # the export fold (WS into the kernels) keeps the outputs of the new head too
    err = (copy.deepcopy(paper).fold_for_export()(x) - y).abs().max()
    assert err <= 1e-5 * (y.max() - y.min()), err  # the export tolerance: 1e-5 of the output range


def test_unknown_head_is_refused():
    with pytest.raises(EdgesegError, match="head='keras'"):
        create_model("sdunet", in_channels=1, num_classes=1, head="keras")
