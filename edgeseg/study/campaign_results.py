"""Read a training campaign (`benchmarks/results/campaign/`): splits, plan and per-run per-image scores.

Layout (written by the campaign runner; see the schema in the campaign runner's docs):
  campaign/plan.json                          recipe per data set ("sets"), "variants" (model, options, seeds,
                                              sets), "aliases", "pruned_levels" (evaluated from UNet#'s runs)
  campaign/splits/<dataset>[-f<k>].json       edgeseg-campaign-split/1: fixed folds (train/val/test stems),
                                              either one file with a "folds" list or one file per fold
  campaign/<dataset>/<variant>/f<F>-s<S>.csv  stem,dice,iou[,dice_interior,iou_interior] per TEST image
  campaign/<dataset>/<variant>/f<F>-s<S>.json edgeseg-campaign-run/1, written only when the run finished
  campaign-trivial/<dataset>.csv              (beside the campaign) the same columns for the trivial predictor
                                              (`edgeseg.study.claims.trivial`); each run then also has
                                              <score>_skill = (score - trivial) / (1 - trivial) per image

A run counts only when both its JSON and its CSV are there and readable, so a campaign that is still
running (or was cut short) is read as what it has finished: missing runs are "not yet measured", never an
error. Files that do not fit are listed in `problems` with the reason, like `evidence.load_evidence` does.
"""

from __future__ import annotations

import csv
import json
import math
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from edgeseg.metrics import never_learned, pooled_dice_bound
from edgeseg.names import FULL_LEVEL, UNETSHARP, level_name, level_of

_RUN = re.compile(r"^f(\d+)-s(\d+)$")
# A run that is also another variant's (same network, recipe, split and seed; the runner does not train it
# twice): TinyU-Net's 30-epoch DSB run of issue 11 is seed 0 of its 2x-budget variant.
SAME_RUNS = {("dsb2018-nuclei-564", "tinyunet-e30", 0, 0): "tinyunet-2x"}


@dataclass
class Run:
    dataset: str
    variant: str
    fold: int
    seed: int
    scores: dict[str, dict[str, float]]  # stem -> metric -> value
    meta: dict[str, Any]
    csv_path: str

    def never_learned(self) -> bool:
        """`metrics.never_learned` on the pooled test Dice, bounded from the per-image CSV (the CSV has no
        pixel counts; the bound below NEVER_LEARNED proves it). A run scored on images with empty masks only
        cannot be judged this way and counts as learned."""
        dice = [row["dice"] for row in self.scores.values() if "dice" in row]
        return never_learned([pooled_dice_bound(dice)] if dice else [])


@dataclass
class Campaign:
    root: Path
    plan: dict[str, Any] | None = None
    splits: dict[str, dict[str, Any]] = field(default_factory=dict)
    runs: list[Run] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)
    trivial: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)  # dataset -> stem -> scores

    @property
    def aliases(self) -> dict[str, str]:
        a = (self.plan or {}).get("aliases") or {}
        return {str(k): str(v) for k, v in a.items()} if isinstance(a, dict) else {}

    def resolve(self, name: str) -> str:
        """A claim's network name -> the campaign variant (e.g. 'sdunet' -> plan.json's alias)."""
        return self.aliases.get(name, UNETSHARP if name == level_name(FULL_LEVEL) else name)

    def datasets(self) -> list[str]:
        """Data sets with runs, splits or a plan entry."""
        names = {r.dataset for r in self.runs} | set(self.splits) | set(plan_datasets(self.plan))
        return sorted(names)

    def match(self, wanted: list[str]) -> list[str]:
        """Campaign data sets whose name contains one of the claim's data-set keys (case-insensitive)."""
        keys = [w.lower() for w in wanted]
        return [d for d in self.datasets() if any(k in d.lower() for k in keys)]

    def variant_runs(self, dataset: str, name: str) -> list[Run]:
        v = self.resolve(name)
        return [r for r in self.runs if r.dataset == dataset and r.variant == v]

    def per_image(self, dataset: str, name: str, metric: str,
                  learned_only: bool = False) -> dict[str, dict[int, float]]:
        """stem -> {seed: value} over every finished fold of the variant (k-fold: each image once per seed);
        `learned_only` leaves out the runs that never learned (for the figures shown beside, never deciding)."""
        out: dict[str, dict[int, float]] = {}
        for r in self.variant_runs(dataset, name):
            if learned_only and r.never_learned():
                continue
            for stem, row in r.scores.items():
                if metric in row:
                    out.setdefault(stem, {})[r.seed] = row[metric]
        return out

    def dead_runs(self, dataset: str, name: str) -> list[Run]:
        return [r for r in self.variant_runs(dataset, name) if r.never_learned()]

    def seeds(self, dataset: str, name: str) -> list[int]:
        return sorted({r.seed for r in self.variant_runs(dataset, name)})

    def _variant_plan(self, name: str) -> dict[str, Any] | None:
        variants = (self.plan or {}).get("variants")
        if not isinstance(variants, dict):
            return None
        v = self.resolve(name)
        if v in ((self.plan or {}).get("pruned_levels") or []):
            v = UNETSHARP if level_of(v) else v  # pruned UNet# levels are scored from the full model's runs
        spec = variants.get(v)
        return spec if isinstance(spec, dict) else {}

    def planned(self, dataset: str, name: str) -> bool | None:
        """Does the plan train this variant on this data set? None when the plan does not say."""
        spec = self._variant_plan(name)
        return None if spec is None else dataset in (spec.get("sets") or [])

    def planned_seeds(self, dataset: str, name: str) -> list[int]:
        """Seeds the plan has for this variant on this data set (empty when the plan does not say)."""
        spec = self._variant_plan(name)
        if not spec or dataset not in (spec.get("sets") or []):
            return []
        return sorted(int(x) for x in spec.get("seeds") or [])

    def planned_runs(self, dataset: str) -> int | None:
        variants = (self.plan or {}).get("variants")
        if not isinstance(variants, dict):
            return None
        folds = int(plan_datasets(self.plan).get(dataset, {}).get("folds") or 1)
        return sum(len(v.get("seeds") or []) * len([f for f in v.get("folds") or range(folds) if f < folds])
                   for v in variants.values() if isinstance(v, dict) and dataset in (v.get("sets") or []))

    def folds_of(self, dataset: str, name: str, min_runs: int = 1) -> set[int]:
        """The folds with at least `min_runs` finished runs of `name` (seeds) on `dataset`."""
        runs = [r.fold for r in self.variant_runs(dataset, name)]
        return {f for f in set(runs) if runs.count(f) >= min_runs}

    def on_folds(self, dataset: str, folds: set[int]) -> Campaign:
        """The same campaign with `dataset` cut to `folds` (its runs and test images): a comparison trained on
        part of a k-fold set (the 2x budget on ISBI fold 0) is set against the other budget on the same images."""
        split = self.splits.get(dataset) or {"folds": []}
        kept = [f for f in split.get("folds") or [] if isinstance(f, dict) and f.get("fold") in folds]
        cut = {**split, "folds": kept}
        return replace(self, splits={**self.splits, dataset: cut},
                       runs=[r for r in self.runs if r.dataset != dataset or r.fold in folds])

    def n_test(self, dataset: str) -> int | None:
        s = self.splits.get(dataset)
        if not s:
            return None
        return len({stem for f in s.get("folds") or [] for stem in f.get("test") or []})


def plan_datasets(plan: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    """plan.json's recipe per data set, as {name: recipe} (accepts a dict or a list of {dataset: ...})."""
    ds = (plan or {}).get("sets", (plan or {}).get("datasets"))
    if isinstance(ds, dict):
        return {str(k): v for k, v in ds.items() if isinstance(v, dict)}
    if isinstance(ds, list):
        return {str(d.get("dataset") or d.get("name")): d for d in ds if isinstance(d, dict)}
    return {}


def _num(x: str) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _read_csv(path: Path) -> dict[str, dict[str, float]]:
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames or "stem" not in reader.fieldnames or "dice" not in reader.fieldnames:
            raise ValueError("needs columns stem,dice[,iou,...]")
        out = {}
        for row in reader:
            vals = {k: v for k, v in ((k, _num(x)) for k, x in row.items() if k != "stem") if v is not None}
            out[row["stem"]] = vals
    return out


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def load_campaign(root: str | Path) -> Campaign:
    """Everything finished under `root` (an absent folder is an empty campaign)."""
    root = Path(root)
    camp = Campaign(root=root)
    if not root.is_dir():
        return camp
    plan = root / "plan.json"
    if plan.is_file():
        try:
            data = _read_json(plan)
            camp.plan = data if isinstance(data, dict) else None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            camp.problems.append((plan.as_posix(), f"unreadable JSON ({type(e).__name__})"))
    for p in sorted((root / "splits").glob("*.json")):
        try:
            data = _read_json(p)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            camp.problems.append((p.as_posix(), f"unreadable JSON ({type(e).__name__})"))
            continue
        if isinstance(data, dict) and isinstance(data.get("folds"), list):
            camp.splits.setdefault(str(data.get("dataset") or p.stem), {"folds": []})["folds"] += data["folds"]
        elif isinstance(data, dict) and isinstance(data.get("fold"), int) and isinstance(data.get("test"), list):
            camp.splits.setdefault(str(data.get("dataset")), {"folds": []})["folds"].append(data)
        elif isinstance(data, dict) and data.get("dataset"):
            camp.splits.setdefault(str(data["dataset"]), {"folds": []})  # summary file; folds in -f<k> files
        else:
            camp.problems.append((p.as_posix(), "not an edgeseg-campaign-split/1 file (no 'folds' list)"))
    for meta_path in sorted(root.glob("*/*/f*-s*.json")):
        m = _RUN.match(meta_path.stem)
        if not m or meta_path.parts[-3] == "splits":
            continue
        dataset, variant = meta_path.parts[-3], meta_path.parts[-2]
        csv_path = meta_path.with_suffix(".csv")
        try:
            meta = _read_json(meta_path)
            scores = _read_csv(csv_path)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, ValueError, csv.Error) as e:
            why = str(e) if isinstance(e, ValueError) and not isinstance(e, json.JSONDecodeError) else type(e).__name__
            camp.problems.append((meta_path.as_posix(), f"run skipped: {why}"))
            continue
        fold, seed = int(m.group(1)), int(m.group(2))
        test = _fold_test(camp.splits.get(dataset), fold)
        if test is not None and not set(scores) <= test:
            camp.problems.append((csv_path.as_posix(), "run skipped: stems outside its fold's test split"))
            continue
        camp.runs.append(Run(dataset, variant, fold, seed, scores, meta if isinstance(meta, dict) else {},
                             csv_path.as_posix()))
    _add_skill(camp, root.parent / "campaign-trivial")
    have = {(r.dataset, r.variant, r.fold, r.seed) for r in camp.runs}
    for r in list(camp.runs):
        also = SAME_RUNS.get((r.dataset, r.variant, r.fold, r.seed))
        if also and (r.dataset, also, r.fold, r.seed) not in have:
            camp.runs.append(Run(r.dataset, also, r.fold, r.seed, r.scores, r.meta, r.csv_path))
    return camp


def skill(score: float, trivial: float) -> float:
    """The share of what the trivial predictor leaves that a network gains: 0 = the trivial score, 1 = perfect."""
    return (score - trivial) / (1.0 - trivial) if trivial < 1.0 else 0.0


def _add_skill(camp: Campaign, folder: Path) -> None:
    """<score>_skill per image for each data set with a trivial-predictor CSV (ISBI's interior Dice: the
    no-membrane predictor scores 0.88 there, so raw differences are a small share of what a network can add)."""
    for p in sorted(folder.glob("*.csv")):
        try:
            camp.trivial[p.stem] = _read_csv(p)
        except (OSError, UnicodeDecodeError, ValueError, csv.Error) as e:
            camp.problems.append((p.as_posix(), f"unreadable trivial baseline ({type(e).__name__})"))
    for r in camp.runs:
        base = camp.trivial.get(r.dataset)
        for stem, row in (r.scores.items() if base else ()):
            for k, t in (base.get(stem) or {}).items():
                if k in row:
                    row[f"{k}_skill"] = skill(row[k], t)


def _fold_test(split: dict[str, Any] | None, fold: int) -> set[str] | None:
    if not split:
        return None
    for f in split.get("folds") or []:
        if isinstance(f, dict) and f.get("fold") == fold:
            return set(f.get("test") or [])
    return None
