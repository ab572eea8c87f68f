"""A plan's fixed splits and its plan.json (the form `edgeseg.study.campaign_results` reads).

One split per data set, fixed by the plan's split seed and independent of the training seed, so every seed is
scored on the same test images: hold-out (n_train / n_val / the rest is test) or k folds (each fold tests
1/k of the images, validates on n_val of the rest). The files are those the claims campaign always wrote:
`splits/<set>.json` (edgeseg-campaign-split/1, every fold) and `splits/<set>-f<k>.json` (the form
`edgeseg train --split-file` reads), then `plan.json` (edgeseg-campaign-plan/1).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from edgeseg.artifacts import write_json_atomic
from edgeseg.errors import EdgesegError
from edgeseg.names import level_name
from edgeseg.study.plan import Plan


def make_splits(plan: Plan, ds: str) -> dict[str, Any]:
    import numpy as np

    from edgeseg.data.dataset import SegFolder

    spec = plan.sets[ds]
    stems = sorted(SegFolder(plan.data_dir(ds)).stems)
    order = [stems[i] for i in np.random.default_rng(plan.split_seed).permutation(len(stems))]
    folds = []
    if spec["kind"] == "holdout":
        a, b = spec["n_train"], spec["n_train"] + spec["n_val"]
        if b >= len(stems):
            raise EdgesegError(f"{plan.path}: sets.{ds}: n_train + n_val = {b} leaves no test image of the "
                               f"{len(stems)}; lower them")
        folds.append({"fold": 0, "train": sorted(order[:a]), "val": sorted(order[a:b]), "test": sorted(order[b:])})
    else:
        k, n = spec["folds"], len(order)
        if n < k or n - n // k <= spec["n_val"]:
            raise EdgesegError(f"{plan.path}: sets.{ds}: {k} folds with n_val {spec['n_val']} leave no training "
                               f"image of the {n}; lower them")
        for f in range(k):
            test = order[f * n // k:(f + 1) * n // k]
            rest = [s for s in order if s not in test]
            folds.append({"fold": f, "train": sorted(rest[spec["n_val"]:]), "val": sorted(rest[:spec["n_val"]]),
                          "test": sorted(test)})
    return {"schema": "edgeseg-campaign-split/1", "dataset": ds, "kind": spec["kind"], "split_seed": plan.split_seed,
            "n_images": len(stems), "folds": folds}


def split_file(plan: Plan, ds: str, fold: int) -> Path:
    return plan.results / "splits" / f"{ds}-f{fold}.json"


def read_splits(plan: Plan) -> dict[str, dict[str, Any]]:
    """The splits already written under the results folder ({} for a set that has none yet)."""
    out = {}
    for ds in plan.sets:
        p = plan.results / "splits" / f"{ds}.json"
        if p.is_file():
            out[ds] = json.loads(p.read_text())
    return out


def write_splits(plan: Plan, ds: str) -> dict[str, Any]:
    doc = make_splits(plan, ds)
    path = plan.results / "splits" / f"{ds}.json"
    if path.is_file() and json.loads(path.read_text()) != doc:
        raise EdgesegError(f"{path}: differs from the split this plan makes; a campaign's test images must not "
                           f"change between sessions (use another --results folder to start over)")
    if not path.is_file():
        write_json_atomic(path, doc)
    for f in doc["folds"]:
        p = split_file(plan, ds, f["fold"])
        if not p.is_file():
            write_json_atomic(p, {"dataset": ds, "fold": f["fold"], **{k: f[k] for k in ("train", "val", "test")}})
    return doc


def plan_doc(plan: Plan, splits: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """plan.json: recipe per set, variants (model, options, seeds, sets, overrides), aliases, pruned levels."""
    sets = {}
    for ds, spec in plan.sets.items():
        s = splits[ds]
        sets[ds] = {**{k: v for k, v in spec.items() if k not in ("shared", "interior")}, "n_images": s["n_images"],
                    "n_train": len(s["folds"][0]["train"]), "n_val": len(s["folds"][0]["val"]),
                    "n_test": sum(len(f["test"]) for f in s["folds"]), "folds": len(s["folds"])}
    variants = {}
    for v, net in plan.networks.items():
        variants[v] = {"model": net["model"], "options": net["options"], "seeds": list(net["seeds"]),
                       "sets": list(net["sets"]), **({"recipe": net["recipe"]} if net.get("recipe") else {}),
                       **({"folds": list(net["folds"])} if net.get("folds") else {})}
    levels = sorted({k for net in plan.networks.values() for k in net.get("score_levels") or []})
    return {"schema": "edgeseg-campaign-plan/1", "split_seed": plan.split_seed, "aliases": plan.aliases,
            "sets": sets, "variants": variants, "pruned_levels": [level_name(k) for k in levels],
            "recipe": plan.recipe_text, "jobs": len(plan.all_jobs())}


def write_plan_files(plan: Plan) -> dict[str, dict[str, Any]]:
    """Splits (refused if they changed) and plan.json; returns the splits."""
    splits = {ds: write_splits(plan, ds) for ds in plan.sets}
    doc = plan_doc(plan, splits)
    p = plan.results / "plan.json"
    if not (p.is_file() and json.loads(p.read_text()) == doc):
        write_json_atomic(p, doc)
    return splits
