"""The report's tables that read the campaign: budget (plan.json), runs per variant, SD-UNet's WS ablation."""

from __future__ import annotations

from typing import Any

from edgeseg.claims.campaign import Campaign, plan_datasets
from edgeseg.claims.checks_accuracy import ablation_table
from edgeseg.claims.verdicts import COMPARABLE_MARGIN, PENDING

WS_VARIANTS = ("unet", "sdunet-ws-channel", "sdunet-ws-layer", "sdunet-ws-none", "sdunet-bn")


def _get(d: dict[str, Any], *keys: str) -> Any:
    for k in keys:
        if d.get(k) is not None:
            return d[k]
    return None


def _fmt(v: Any) -> str:
    if v is None:
        return "?"
    if isinstance(v, (list, tuple)):
        return "x".join(str(x) for x in v) if all(isinstance(x, int) for x in v) else ", ".join(map(str, v))
    if isinstance(v, dict):
        return "; ".join(f"{k}: {_fmt(x)}" for k, x in v.items())
    return str(v)


def _seeds(camp: Campaign, ds: str, recipe: dict[str, Any]) -> str:
    """Seeds per variant on this set, from plan.json's variants (e.g. '3: unet, tinyunet; 1: gpunet')."""
    variants = (camp.plan or {}).get("variants")
    if not isinstance(variants, dict):
        return ", ".join(map(str, recipe.get("seeds") or [])) or "?"
    by_n: dict[int, list[str]] = {}
    for name, spec in sorted(variants.items()):
        if isinstance(spec, dict) and ds in (spec.get("sets") or []):
            by_n.setdefault(len(spec.get("seeds") or []), []).append(name)
    return "; ".join(f"{n}: {', '.join(v)}" for n, v in sorted(by_n.items(), reverse=True)) or "?"


def budget_lines(camp: Campaign) -> list[str]:
    out = ["## Budget", ""]
    recipes = plan_datasets(camp.plan)
    if not recipes:
        out += [f"No campaign plan yet (`{(camp.root / 'plan.json').as_posix()}` is missing): every trained-accuracy "
                f"verdict below is \"inconclusive at this budget\", {PENDING}.", ""]
    else:
        out += ["Trained accuracy comes only from the campaign below (fixed splits, independent of the training seed, "
                "so all seeds share the test images; ISBI: k-fold, every image tested once). From "
                f"`{(camp.root / 'plan.json').as_posix()}`:", "",
                "| Data set | train / val / test images | folds | input | epochs | batch | lr | seeds "
                "| finished runs |",
                "|---|---|---|---|---|---|---|---|---|"]
        for ds, r in recipes.items():
            n_test = _get(r, "n_test") or camp.n_test(ds)
            counts = f"{_fmt(_get(r, 'n_train'))} / {_fmt(_get(r, 'n_val'))} / {_fmt(n_test)}"
            pruned = set((camp.plan or {}).get("pruned_levels") or [])
            done = sum(1 for x in camp.runs if x.dataset == ds and x.variant not in pruned)
            planned = camp.planned_runs(ds)
            out.append(f"| {ds} | {counts} | {_fmt(_get(r, 'folds'))} | {_fmt(_get(r, 'size', 'input'))} | "
                       f"{_fmt(_get(r, 'epochs'))} | {_fmt(_get(r, 'batch'))} | {_fmt(_get(r, 'lr'))} | "
                       f"{_seeds(camp, ds, r)} | {done}{f' of {planned}' if planned else ''} |")
        out.append("")
    out += ["What a GPU budget would change: the campaign is sized for about 3 CPU hours (small inputs, tens of "
            "epochs, 3 seeds for U-Net / SD-UNet / TinyU-Net / U-Lite, 1 seed for GPU-Net / Ghost U-Net / UNet#). On "
            "one GPU the same plan could train at the papers' resolutions (256x256, ISIC's 192x256) for the papers' "
            "100-300 epochs, give every network 3 or more seeds (so no verdict is capped at \"holds in part\" for "
            "unmeasured seed variance), and narrow the intervals that now straddle a threshold; it would also allow "
            "absolute latency on the papers' own hardware class (the K40c / A100 figures stay untestable here, only "
            "their ratios are measured on our CPU). It would not make BRATs, LUNA, ISIC, NCP or the challenge "
            "servers available.", ""]
    return out


def runs_lines(camp: Campaign) -> list[str]:
    if not camp.runs:
        return []
    out = ["## Campaign runs found", "",
           f"Finished runs under `{camp.root.as_posix()}` (a run counts when its JSON and CSV are both written); "
           "seeds per variant and data set. Missing runs are \"not yet measured\".", "",
           "| Data set | Variant | seeds finished | seeds planned | images scored |", "|---|---|---|---|---|"]
    for ds in sorted({r.dataset for r in camp.runs}):
        for v in sorted({r.variant for r in camp.runs if r.dataset == ds}):
            seeds = camp.seeds(ds, v)
            planned = camp.planned_seeds(ds, v)
            n = len(camp.per_image(ds, v, "dice"))
            out.append(f"| {ds} | {v} | {', '.join(map(str, seeds))} | {', '.join(map(str, planned)) or '?'} | {n} |")
    if camp.aliases:
        out += ["", "Aliases (plan.json): " + ", ".join(f"`{k}` = `{v}`" for k, v in camp.aliases.items()) + "."]
    out += [f"- ignored `{p}`: {why}" for p, why in camp.problems]
    return out + [""]


def ablation_lines(camp: Campaign, row: Any | None) -> list[str]:
    out = ["## SD-UNet: weight-standardization ablation", "",
           "The evidence for SD-UNet's central claim (`sdunet-ws-gn-recovers`). Each row: seeds and test images, "
           "the mean per-image score with its 95% bootstrap interval, and the paired difference to SD-UNet without WS "
           "(`sdunet-ws-none`) with its 95% interval (per image, seed-averaged first). ISBI rows are interior Dice "
           "(the paper's white foreground); DSB rows are nucleus Dice. "
           f"Comparable = difference > -{COMPARABLE_MARGIN:.2f}.", ""]
    alias = camp.aliases.get("sdunet")
    if alias:
        out += [f"SD-UNet's default WS mode in this campaign: `{alias}` (plan.json alias; chosen on validation "
                "splits).", ""]
    rows = ablation_table(camp, ["isbi", "dsb"], list(WS_VARIANTS), "sdunet-ws-none", {"isbi": "dice_interior"})
    if not rows:
        return out + [f"- {PENDING}: no ISBI or DSB runs in the campaign yet.", ""]
    out += ["| Data set | Variant | seeds | images | mean [95% CI] | minus ws-none [95% CI] |",
            "|---|---|---|---|---|---|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    if row is not None:
        out += ["", f"Verdict of `sdunet-ws-gn-recovers`: **{row.verdict}** ({row.why})."]
    return out + [""]
