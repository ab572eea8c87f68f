"""The claims report's view of the campaign's scores: per-image values by seed -> two-level intervals.

A campaign gives one value per (image, seed) for each network: `camp.per_image(...)` returns
stem -> {seed: value}. A k-fold set's seed covers every image once (each from the fold that tested it), so a
"run" here is one seed's set of folds. The statistics are `edgeseg.intervals`' (the one owner of the
bootstrap and the two-level interval; its docstring states the conventions); this module only reshapes.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from edgeseg.intervals import Interval, two_level_difference, two_level_interval

PerImage = Mapping[str, Mapping[int, float]]


def by_run(per_image: PerImage) -> list[dict[str, float]]:
    """stem -> {seed: value} as one {stem: value} mapping per seed (seed order)."""
    runs: dict[int, dict[str, float]] = {}
    for stem, vals in per_image.items():
        for seed, v in vals.items():
            if v is not None and np.isfinite(v):
                runs.setdefault(int(seed), {})[stem] = float(v)
    return [runs[s] for s in sorted(runs)]


def seed_mean(per_image: PerImage) -> dict[str, float]:
    """Per image: the mean of its values over the seeds that scored it (images with no value are dropped)."""
    out = {}
    for stem, vals in per_image.items():
        raw = vals.values() if isinstance(vals, Mapping) else vals  # {seed: value} or a plain list
        v = [float(x) for x in raw if x is not None and np.isfinite(x)]
        if v:
            out[stem] = float(np.mean(v))
    return out


def compare(model: PerImage, comparator: PerImage) -> Interval | None:
    """(model - comparator) over the images every seed of both scored: the two-level interval."""
    return two_level_difference(by_run(model), by_run(comparator))


def mean_interval(per_image: PerImage) -> Interval | None:
    """One network's mean over its seeds and the images they all scored: the two-level interval."""
    return two_level_interval(by_run(per_image))
