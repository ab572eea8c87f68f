"""Trained-accuracy checks, decided from the training campaign's per-image scores only.

Every comparison is a paired bootstrap interval of (model - comparator) over the test images both were
scored on, each image averaged over its training seeds first (`edgeseg.claims.stats`), turned into a verdict
by `edgeseg.claims.verdicts` (thresholds, margin, caps). The older one-seed `train-*.json` files do not decide
any accuracy verdict: where the campaign has no runs yet, the verdict is "inconclusive at this budget" with
the reason "not yet measured (campaign pending)".

Metric per data set, the same for every claim (so two verdicts on one set never rest on different scores):
the campaign's CSV scores the trained foreground (`dice`, `iou`). On ISBI the trained foreground is the
membrane, but the one paper that uses ISBI (SD-UNet) scores the white "segmented objects" (cell interiors)
of its labels, so every ISBI verdict uses the interior score (`DATASET_METRIC`); the membrane score is shown
beside it, never deciding. For the other papers ISBI is a stand-in set, and the paper that does use it fixes
the metric.
"""

from __future__ import annotations

from typing import Any

from edgeseg.claims.campaign import Campaign
from edgeseg.claims.stats import Interval, compare, mean_interval, seed_mean
from edgeseg.claims.verdicts import (
    FAILS,
    HOLDS,
    INCONCLUSIVE,
    PART,
    PENDING,
    SINGLE_SEED,
    ClaimRow,
    cap,
    combine,
    decide,
    lowest_verdict,
    rank_verdict,
    threshold,
)
from edgeseg.metrics import NEVER_LEARNED

# data set (substring) -> suffix of the deciding score; see the module docstring.
DATASET_METRIC = {"isbi": "_interior"}


def metric_for(t: dict[str, Any], dataset: str) -> str:
    """The score that decides claim `t` on `dataset`: the claim's metric (dice / iou) in the set's variant."""
    for key, suffix in DATASET_METRIC.items():
        if key in dataset.lower():
            return str(t["metric"]) + suffix
    return str(t["metric"])


def _other_metric(metric: str) -> str | None:
    return {"dice": "dice_interior", "dice_interior": "dice", "iou": "iou_interior", "iou_interior": "iou"}.get(metric)


def pair(camp: Campaign, ds: str, a: str, b: str, metric: str) -> tuple[Interval | None, str]:
    """(model - comparator) interval on data set `ds`, with 'n images, seeds a/b' for the report."""
    pa, pb = camp.per_image(ds, a, metric), camp.per_image(ds, b, metric)
    ci = compare(pa, pb) if pa and pb else None
    sa, sb = len(camp.seeds(ds, a)), len(camp.seeds(ds, b))
    n = ci.n if ci else 0
    return ci, f"n={n} images, seeds {a} {sa} / {b} {sb}"


def _without_dead(camp: Campaign, ds: str, a: str, b: str, metric: str) -> str:
    """'; without the runs that never learned: <interval>' where either side has such a run, else ''."""
    if not camp.dead_runs(ds, a) and not camp.dead_runs(ds, b):
        return ""
    ci = compare(camp.per_image(ds, a, metric, learned_only=True), camp.per_image(ds, b, metric, learned_only=True))
    return f"; without the runs that never learned: {ci.fmt() if ci else 'n/a'} (shown beside, not deciding)"


def _mean(camp: Campaign, ds: str, name: str, metric: str, on: set[str] | None = None) -> float | None:
    """Seed-averaged mean over the test images (only those in `on`, when given)."""
    m = {k: v for k, v in seed_mean(camp.per_image(ds, name, metric)).items() if on is None or k in on}
    return sum(m.values()) / len(m) if m else None


def _paired_means(camp: Campaign, ds: str, a: str, b: str, metric: str) -> tuple[float | None, float | None]:
    """Both networks' means over the images both were scored on: the images the interval is taken over."""
    common = set(camp.per_image(ds, a, metric)) & set(camp.per_image(ds, b, metric))
    return _mean(camp, ds, a, metric, common), _mean(camp, ds, b, metric, common)


def _start(row: ClaimRow, t: dict[str, Any], camp: Campaign, names: list[str]) -> tuple[list[str], list[str]]:
    """Matching data sets that have runs for every network, and those still pending."""
    if not camp.runs and not camp.plan:
        row.why = f"{PENDING}: no campaign results in {camp.root.as_posix()}"
        return [], []
    # Data sets the plan does not train these networks on are not "pending": they are out of the claim's test.
    sets = [d for d in camp.match(list(t["datasets"])) if all(camp.planned(d, n) is not False for n in names)]
    ready = [d for d in sets if all(camp.variant_runs(d, n) for n in names)]
    pending = [d for d in sets if d not in ready]
    if not ready:
        if not sets:
            row.why = f"{PENDING}: no finished runs of {', '.join(names)} on {'/'.join(t['datasets'])} (none planned)"
        else:
            row.why = f"{PENDING}: " + "; ".join(
                f"no finished runs of {', '.join(n for n in names if not camp.variant_runs(d, n))} on {d}"
                for d in sets)
    return ready, pending


def _finish(row: ClaimRow, t: dict[str, Any], camp: Campaign, verdicts: list[str], ready: list[str],
            pending: list[str], names: list[str], rule: str, reasons: list[str]) -> None:
    """Verdict across data sets, with each set's outcome (`reasons`, one per ready set) in the reason."""
    if not ready:
        row.verdict = INCONCLUSIVE
        return
    limits = []
    for d in ready:
        single = sorted(n for n in names if len(camp.seeds(d, n)) < 2)
        if single:
            limits.append(f"{SINGLE_SEED} on {d}: {', '.join(single)}")
        # a k-fold set with folds still pending: the intervals cover part of its images
        common = set.intersection(*(set(camp.per_image(d, n, "dice")) for n in names if camp.variant_runs(d, n)))
        total = camp.n_test(d)
        if total and len(common) < total:
            limits.append(f"{len(common)} of {total} test images on {d} (runs pending)")
    if pending:
        limits.append(f"{PENDING} on {', '.join(pending)}")
    if t.get("incomplete"):
        limits.append(str(t["incomplete"]))
    v = combine(verdicts)
    row.verdict = cap(v, limits)
    outcome = "; ".join(f"{d}: {r}" for d, r in zip(ready, reasons, strict=True))
    tally = ", ".join(f"{sum(x == w for x in verdicts)} {w}" for w in (HOLDS, FAILS, INCONCLUSIVE, PART)
                      if w in verdicts)
    row.why = f"{rule}; per set ({len(ready)}): {tally}; {outcome}"
    if limits:
        row.why += ("; at best holds in part: " if v == HOLDS else "; also: ") + "; ".join(limits)
    dead = [f"{n} seed {r.seed}{f' fold {r.fold}' if r.fold else ''} on {d}" for d in ready for n in names
            for r in camp.dead_runs(d, n)]
    if dead:  # kept in the seed average (the recipe's reliability is part of the result), but said here
        row.why += (f"; includes runs that never learned (best validation or test Dice < {NEVER_LEARNED}): "
                    f"{', '.join(dead)}")
    row.evidence = sorted({r.csv_path.rsplit("/", 2)[0] + "/" for d in ready for n in names
                           for r in camp.variant_runs(d, n)})


def check_accuracy_diff(row: ClaimRow, t: dict[str, Any], camp: Campaign) -> None:
    model, base, mode = t["model"], t["baseline"], t["mode"]
    thr = threshold(mode, float(t.get("margin", 0.01)))
    ready, pending = _start(row, t, camp, [model, base])
    verdicts, ours, cis, reasons = [], [], [], []
    for ds in ready:
        metric = metric_for(t, ds)
        ci, info = pair(camp, ds, model, base, metric)
        v, why = decide(ci, thr)
        verdicts.append(v)
        reasons.append(f"{v} ({why})")
        ma, mb = _paired_means(camp, ds, model, base, metric)
        ours.append(f"{ds}: {model} {ma:.3f} vs {base} {mb:.3f} {metric}" if ma is not None and mb is not None
                    else f"{ds}: no paired images")
        cis.append(f"{ds}: {metric} diff {ci.fmt() if ci else 'n/a'}, {info}"
                   + _without_dead(camp, ds, model, base, metric))
        row.details.append(f"{ds}: {metric} {model} - {base} = {ci.fmt() if ci else 'n/a'} (95% CI, {info}) "
                           f"-> {v} ({why})")
        other = _other_metric(metric)
        if other and camp.per_image(ds, model, other):
            oci, _ = pair(camp, ds, model, base, other)
            cis[-1] += f"; {other} diff {oci.fmt() if oci else 'n/a'} (shown beside, not deciding)"
            row.details.append(f"{ds}: shown beside, not deciding: {other} {model} - {base} = "
                               f"{oci.fmt() if oci else 'n/a'}")
    row.ours, row.ci = "; ".join(ours) or "-", "; ".join(cis)
    rule = (f"{model} - {base} per-image {t['metric']} must be > {thr:+.3f}"
            + (" (better)" if mode == "better" else f" (comparable: margin {-thr:.2f})"))
    _finish(row, t, camp, verdicts, ready, pending, [model, base], rule, reasons)


def _ci_list(ds: str, diffs: dict[str, Interval | None]) -> str:
    n = max((d.n for d in diffs.values() if d), default=0)
    return f"{ds}: " + ", ".join(f"vs {o} {d.fmt() if d else 'n/a'}" for o, d in diffs.items()) + f", n={n} images"


def check_accuracy_rank(row: ClaimRow, t: dict[str, Any], camp: Campaign) -> None:
    model, want, among = t["model"], int(t["rank"]), [m for m in t["among"] if m != t["model"]]
    ready, pending = _start(row, t, camp, [model])
    verdicts, parts, used, reasons = [], [], {model}, []
    for ds in ready:
        metric = metric_for(t, ds)
        # Planned comparators without runs yet stay in as "may be better" (None), so a partial campaign
        # cannot make a rank hold by leaving a network out.
        others = [o for o in among if camp.planned(ds, o) or (camp.planned(ds, o) is None and camp.variant_runs(ds, o))]
        diffs = {o: pair(camp, ds, model, o, metric)[0] if camp.variant_runs(ds, o) else None for o in others}
        v, above, not_below = rank_verdict(diffs, want)
        verdicts.append(v)
        reasons.append(f"{v} ({above} decidedly above, {not_below} not decidedly below)")
        used |= set(others)
        means = {n: _mean(camp, ds, n, metric) for n in [model, *others] if camp.variant_runs(ds, n)}
        order = sorted(means, key=lambda k: -(means[k] or 0))
        parts.append(f"{ds}: #{order.index(model) + 1} of {len(order)} by mean {metric}")
        row.details.append(f"{ds}: {len(others)} others; decidedly above {model}: {above}; not decidedly below: "
                           f"{not_below} -> {v}")
        row.details += [f"  {ds}: {model} - {o} = {d.fmt() if d else 'n/a'} (n={d.n if d else 0})"
                        + (_without_dead(camp, ds, model, o, metric) if d else "") for o, d in diffs.items()]
        row.ci += ("; " if row.ci else "") + _ci_list(ds, diffs)
    row.ours = "; ".join(parts) or "-"
    rule = (f"rank <= {want} by pairwise intervals: holds when at most {want - 1} other network(s) may be better, "
            f"fails when {want} or more are decidedly better")
    _finish(row, t, camp, verdicts, ready, pending, sorted(used), rule, reasons)


def check_accuracy_order(row: ClaimRow, t: dict[str, Any], camp: Campaign) -> None:
    models, worst = list(t["models"]), t["worst"]
    ready, pending = _start(row, t, camp, models)
    verdicts, parts, reasons = [], [], []
    for ds in ready:
        metric = metric_for(t, ds)
        diffs = {o: pair(camp, ds, worst, o, metric)[0] for o in models if o != worst}
        v = lowest_verdict(diffs)
        verdicts.append(v)
        reasons.append(v)
        means = ", ".join(f"{m} {_mean(camp, ds, m, metric):.3f}" for m in models)
        parts.append(f"{ds}: {means} ({metric})")
        row.details.append(f"{ds}: " + ", ".join(f"{worst} - {o} = {d.fmt() if d else 'n/a'}" for o, d in diffs.items())
                           + f" -> {v}")
        row.ci += ("; " if row.ci else "") + _ci_list(ds, diffs)
    row.ours = "; ".join(parts) or "-"
    _finish(row, t, camp, verdicts, ready, pending, models,
            f"{worst} must be decidedly below every other of {', '.join(models)} (pairwise intervals)", reasons)


def check_ws_ablation(row: ClaimRow, t: dict[str, Any], camp: Campaign) -> None:
    """SD-UNet's central claim: WS+GN recovers the drop of depthwise separable convs.

    Per data set: (a) WS helps: SD-UNet (the default WS mode) - SD-UNet without WS > 0, and (b) recovered:
    SD-UNet - U-Net > -margin (comparable). Both hold -> holds; (a) holds, (b) fails -> in part; (a) fails ->
    does not hold (WS does not help); otherwise inconclusive. The claim presumes (c) a drop: SD-UNet without WS
    below U-Net. Where (c) is refuted (no WS already comparable or better) and WS adds nothing decided, there is
    nothing to recover and nothing recovered: does not hold on that set.
    """
    model, none, base = t["model"], t["no_ws"], t["baseline"]
    thr = threshold("comparable", float(t.get("margin", 0.01)))
    ready, pending = _start(row, t, camp, [model, none, base])
    verdicts, ours, reasons = [], [], []
    for ds in ready:
        metric = metric_for(t, ds)
        ci_a, info_a = pair(camp, ds, model, none, metric)
        ci_b, info_b = pair(camp, ds, model, base, metric)
        va, vb = decide(ci_a, 0.0)[0], decide(ci_b, thr)[0]
        # The claim presumes a drop to recover: depthwise separable without WS below U-Net (comparable fails).
        ci_c, _ = pair(camp, ds, none, base, metric)
        drop = decide(ci_c, thr)[0]
        premise = ("there is a drop to recover" if drop == FAILS else "there is no drop to recover" if drop == HOLDS
                   else "whether there is a drop is undecided")
        v = FAILS if va == FAILS else HOLDS if va == vb == HOLDS else PART if (va, vb) == (HOLDS, FAILS) \
            else INCONCLUSIVE
        if drop == HOLDS and va != HOLDS:  # no drop to recover and WS adds nothing: the claim's story fails here
            v = FAILS
        verdicts.append(v)
        reasons.append(f"{v} (WS gain: {decide(ci_a, 0.0)[1]}; vs {base}: {decide(ci_b, thr)[1]}; premise: "
                       f"{premise}, {none} - {base} {ci_c.fmt() if ci_c else 'n/a'}"
                       f"{_without_dead(camp, ds, none, base, metric)})")
        ours.append(f"{ds}: WS gain {ci_a.fmt() if ci_a else 'n/a'}, vs U-Net {ci_b.fmt() if ci_b else 'n/a'}, "
                    f"no WS vs U-Net {ci_c.fmt() if ci_c else 'n/a'}")
        row.ci += ("; " if row.ci else "") + (f"{ds}: {metric} vs {none} {ci_a.fmt() if ci_a else 'n/a'} ({info_a}); "
                                              f"vs {base} {ci_b.fmt() if ci_b else 'n/a'} ({info_b})")
        row.details.append(f"{ds}: (a) {model} ({camp.resolve(model)}) - {none} {metric} = "
                           f"{ci_a.fmt() if ci_a else 'n/a'} ({info_a}) -> {va}")
        row.details.append(f"{ds}: (b) {model} - {base} {metric} = {ci_b.fmt() if ci_b else 'n/a'} ({info_b}) "
                           f"-> {vb} (margin {-thr:.2f})")
        row.details.append(f"{ds}: premise: {none} - {base} {metric} = {ci_c.fmt() if ci_c else 'n/a'}: {premise} "
                           f"=> {v}")
    row.ours = "; ".join(ours) or "-"
    _finish(row, t, camp, verdicts, ready, pending, [model, none, base],
            "(a) WS must improve on no WS (> 0) and (b) SD-UNet must be comparable with U-Net (> -margin); (c) where "
            "no WS is already comparable with U-Net and WS adds nothing, there is no drop to recover", reasons)


def ablation_table(camp: Campaign, datasets: list[str], variants: list[str], ref: str) -> list[list[str]]:
    """Rows [data set, variant, seeds, images, mean [CI], diff vs ref [CI]] for the WS ablation table."""
    rows = []
    for ds in camp.match(datasets):
        metric = metric_for({"metric": "dice"}, ds)
        for v in variants:
            if camp.planned(ds, v) is False:
                continue
            per = camp.per_image(ds, v, metric)
            if not per:
                rows.append([ds, v, "0", "0", PENDING, "-"])
                continue
            mi = mean_interval(seed_mean(per))
            d = compare(per, camp.per_image(ds, ref, metric)) if v != ref else None
            rows.append([ds, v, str(len(camp.seeds(ds, v))), str(mi.n if mi else 0),
                         f"{metric} {mi.fmt(signed=False)}" if mi else "-",
                         d.fmt() if d else "-"])
    return rows


ACCURACY_CHECKS = {"accuracy_diff": check_accuracy_diff, "accuracy_rank": check_accuracy_rank,
                   "accuracy_order": check_accuracy_order, "ws_ablation": check_ws_ablation}
