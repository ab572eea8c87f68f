"""Building blocks shared by more than one architecture."""

from __future__ import annotations

from torch import nn


class DoubleConv(nn.Sequential):
    """(3x3 conv -> BN -> ReLU) x 2, bias-free convs (milesial U-Net)."""

    def __init__(self, cin: int, cout: int, mid: int | None = None) -> None:
        mid = cout if mid is None else mid
        super().__init__(
            nn.Conv2d(cin, mid, 3, padding=1, bias=False), nn.BatchNorm2d(mid), nn.ReLU(inplace=True),
            nn.Conv2d(mid, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
        )
