"""Trained-accuracy checks, decided from the training campaign's per-image scores only.

Every comparison is a two-level interval of (model - comparator) over the learned runs of each network and
the test images both were scored on (`edgeseg.intervals`), turned into a per-set verdict by
`edgeseg.study.claims.verdicts` (thresholds, margin) and `edgeseg.study.claims.accuracy_rules` (seed cap, images cap,
reliability, budget), then combined across sets. The older one-seed `train-*.json` files do not decide
any accuracy verdict: where the campaign has no runs yet, the verdict is "inconclusive at this budget" with
the reason "not yet measured (campaign pending)".

Metric per data set, the same for every claim (so two verdicts on one set never rest on different scores):
the campaign's CSV scores the trained foreground (`dice`, `iou`). On ISBI the trained foreground is the
membrane, but the one paper that uses ISBI (SD-UNet) scores the white "segmented objects" (cell interiors)
of its labels, so every ISBI verdict uses the interior score. Predicting no membrane at all already scores
0.877 interior Dice there (`edgeseg.study.claims.trivial`), and every network lies in 0.89-0.94: a raw difference is
a small share of what a network can add, and a 0.01 margin would be a sixth of the whole range. So ISBI is
decided on the interior score's skill over the trivial predictor, (score - trivial) / (1 - trivial) per image
(`campaign.skill`; 0 = the trivial predictor, 1 = perfect), with the same margin as every other set: on DSB and
Kvasir the trivial (empty) prediction scores 0, so there skill is the score itself and one rule serves all
sets. The raw interior score, the trivial predictor's mean and the membrane score are shown beside, never
deciding. For the other papers ISBI is a stand-in set, and the paper that does use it fixes the metric.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from edgeseg.study.campaign_results import Campaign
from edgeseg.study.claims import accuracy_rules as ar
from edgeseg.study.claims.report_summary import short_ours
from edgeseg.study.claims.stats import Interval, compare, mean_interval, seed_mean
from edgeseg.study.claims.verdicts import (
    FAILS,
    HOLDS,
    INCONCLUSIVE,
    PART,
    PENDING,
    ClaimRow,
    cap,
    combine,
    decide,
    lowest_verdict,
    rank_verdict,
    threshold,
)

# data set (substring) -> suffix of the deciding score; see the module docstring.
DATASET_METRIC = {"isbi": "_interior_skill"}


def metric_for(t: dict[str, Any], dataset: str, camp: Campaign | None = None) -> str:
    """The score that decides claim `t` on `dataset`: the claim's metric (dice / iou) in the set's variant; on
    ISBI its skill over the trivial predictor, or the raw interior score where no trivial baseline was read."""
    for key, suffix in DATASET_METRIC.items():
        if key in dataset.lower():
            skill = camp is not None and dataset in camp.trivial
            return str(t["metric"]) + (suffix if skill else suffix.removesuffix("_skill"))
    return str(t["metric"])


def _beside(metric: str) -> list[str]:
    """Scores shown beside an ISBI one (never deciding): the raw interior score and the membrane score."""
    base = metric.removesuffix("_skill").removesuffix("_interior")
    return [m for m in (base + "_interior", base) if m != metric] if metric != base else []


def trivial_note(camp: Campaign, ds: str, metric: str) -> str:
    """'; trivial predictor 0.877 dice_interior' where the set has a trivial baseline (every ISBI figure)."""
    raw = metric.removesuffix("_skill")
    vals = [row[raw] for row in camp.trivial.get(ds, {}).values() if raw in row]
    return f"; trivial no-membrane predictor {sum(vals) / len(vals):.3f} {raw}" if vals and raw != metric else ""


def pair(camp: Campaign, ds: str, a: str, b: str, metric: str) -> tuple[Interval | None, str]:
    """(a - b) two-level interval over the learned runs, with 'n images, learned seeds' for the report."""
    pa = camp.per_image(ds, a, metric, learned_only=True)
    pb = camp.per_image(ds, b, metric, learned_only=True)
    ci = compare(pa, pb) if pa and pb else None
    (ka, na), (kb, nb) = ar.learned_seeds(camp, ds, a), ar.learned_seeds(camp, ds, b)
    return ci, f"n={ci.n if ci else 0} images, learned seeds {a} {ka}/{na}, {b} {kb}/{nb}"


def _fmt(ci: Interval | None) -> str:
    return ci.fmt() if ci else "n/a"


def _mean(camp: Campaign, ds: str, name: str, metric: str, on: set[str] | None = None) -> float | None:
    """Mean over the learned runs and the test images (only those in `on`, when given)."""
    m = {k: v for k, v in seed_mean(camp.per_image(ds, name, metric, learned_only=True)).items()
         if on is None or k in on}
    return sum(m.values()) / len(m) if m else None


@dataclass
class Judged:
    """One data set's outcome of one claim under one budget."""

    verdict: str
    reason: str
    ours: str = ""
    ci: str = ""
    details: list[str] = field(default_factory=list)
    short: str = ""


Judge = Callable[[Campaign, str, str, dict[str, str]], Judged]


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


def _budget_view(camp: Campaign, ds: str, names: list[str], metric: str) -> tuple[Campaign, str] | None:
    """The campaign on which both budgets are compared: the whole set, or (k-fold) the folds the 2x runs cover,
    with what was cut ('' for the whole set); None when the 2x runs are not there yet."""
    if ar.budget_ready(camp, ds, names, metric):
        return camp, ""
    # only folds every 2x variant has finished on all its seeds: a fold half-trained decides nothing yet
    folds = set.intersection(*[camp.folds_of(ds, ar.budget_variant(camp, n), ar.MIN_SEEDS)
                               for n in names]) if names else set()
    if not folds:
        return None
    sub = camp.on_folds(ds, folds)
    if not ar.budget_ready(sub, ds, names, metric):
        return None
    return sub, f"fold{'s' if len(folds) > 1 else ''} {', '.join(map(str, sorted(folds)))}, {sub.n_test(ds)} images"


def _judge_set(camp: Campaign, ds: str, metric: str, names: list[str], judge: Judge) -> Judged:
    """One set: the judged verdict, then the rules of `accuracy_rules` in their order."""
    j = judge(camp, ds, metric, {n: n for n in names})
    notes = []
    for capped, why in (ar.seed_cap(camp, ds, names, j.verdict), ar.images_cap(camp, ds, names, metric, j.verdict)):
        if why:
            j.verdict = capped
            notes.append(why)
    view = _budget_view(camp, ds, names, metric)
    if view is not None:
        sub, cut = view
        # Like with like: on a cut set the 1x verdict on the same folds is the one set against the 2x one.
        j1 = judge(sub, ds, metric, {n: n for n in names}) if cut else j
        v1 = ar.seed_cap(sub, ds, names, j1.verdict)[0] if cut else j.verdict
        j2 = judge(sub, ds, metric, {n: ar.budget_variant(camp, n) for n in names})
        on = f" on {cut}" if cut else ""
        changed = ar.budget_rule(v1, j2.verdict) != v1
        if changed:
            notes.append(f"{ar.BUDGET_DEPENDS}{on}: {v1} at the campaign's epochs{f' ({j1.ci})' if cut else ''}, "
                         f"{j2.verdict} at 2x "
                         f"({j2.ours}; {j2.ci})")
        else:
            notes.append(f"the same at 2x epochs{on} ({j2.ci})")
        if cut:
            j.details.append(f"{ds}: at 1x epochs{on}: {j1.ci} -> {v1}")
        j.details.append(f"{ds}: at 2x epochs{on}: {j2.ci} -> {j2.verdict}")
        if changed:
            j.verdict = INCONCLUSIVE
    elif j.verdict in (HOLDS, FAILS):
        notes.append("not yet trained at 2x epochs")
    qualifier = ar.reliability(camp, ds, names)
    if qualifier:
        notes.append(qualifier)
    if notes:
        j.reason += "; " + "; ".join(notes)
    return j


def _run_check(row: ClaimRow, t: dict[str, Any], camp: Campaign, names: list[str], judge: Judge, rule: str) -> None:
    ready, pending = _start(row, t, camp, names)
    outcomes = [(ds, _judge_set(camp, ds, metric_for(t, ds, camp), names, judge)) for ds in ready]
    row.ours = "; ".join(f"{ds}: {j.ours}" for ds, j in outcomes if j.ours) or "-"
    row.ci = "; ".join(f"{ds}: {j.ci}" for ds, j in outcomes if j.ci)
    row.short = short_ours([(ds, j.short) for ds, j in outcomes])
    for _, j in outcomes:
        row.details += j.details
    if not ready:
        row.verdict = INCONCLUSIVE
        return
    verdicts = [j.verdict for _, j in outcomes]
    limits = ([f"{PENDING} on {', '.join(pending)}"] if pending else []) + \
        ([str(t["incomplete"])] if t.get("incomplete") else [])
    v = combine(verdicts)
    row.verdict = cap(v, limits)
    row.sets = ar.sets_tally(verdicts, len(ready) + len(pending))
    row.qualifier = "; ".join(f"{ds}: {q}" for ds in ready if (q := ar.reliability(camp, ds, names)))
    row.why = f"{rule}; {row.sets}; " + "; ".join(f"{ds}: {j.verdict} ({j.reason})" for ds, j in outcomes)
    if limits:
        row.why += ("; at best holds in part: " if v == HOLDS else "; also: ") + "; ".join(limits)
    row.evidence = sorted({r.csv_path.rsplit("/", 2)[0] + "/" for d in ready for n in names
                           for r in camp.variant_runs(d, n)})


def check_accuracy_diff(row: ClaimRow, t: dict[str, Any], camp: Campaign) -> None:
    model, base, mode = t["model"], t["baseline"], t["mode"]
    thr = threshold(mode, float(t.get("margin", 0.01)))

    def judge(camp: Campaign, ds: str, metric: str, alias: dict[str, str]) -> Judged:
        a, b = alias[model], alias[base]
        ci, info = pair(camp, ds, a, b, metric)
        v, why = decide(ci, thr)
        common = set(camp.per_image(ds, a, metric, True)) & set(camp.per_image(ds, b, metric, True))
        raw = metric.removesuffix("_skill")
        ra, rb = _mean(camp, ds, a, raw, common), _mean(camp, ds, b, raw, common)
        ours = (f"{a} {ra:.3f} vs {b} {rb:.3f} {raw}{trivial_note(camp, ds, metric)}"
                if ra is not None and rb is not None else "no paired images")
        j = Judged(v, why, ours, f"{metric} {a} - {b} {_fmt(ci)} ({info})")
        j.short = _fmt(ci) + (f" {metric}" if raw != metric else "")
        j.details.append(f"{ds}: {metric} {a} - {b} = {_fmt(ci)} (95% two-level CI, {info}) -> {v} ({why})")
        for other in _beside(metric) if camp.per_image(ds, a, metric) else []:
            oci, _ = pair(camp, ds, a, b, other)
            j.details.append(f"{ds}: shown beside, not deciding: {other} {a} - {b} = {_fmt(oci)}")
        return j

    rule = (f"{model} - {base} per-image {t['metric']} must be > {thr:+.3f}"
            + (" (better)" if mode == "better" else f" (comparable: margin {-thr:.2f})"))
    _run_check(row, t, camp, [model, base], judge, rule)


def check_accuracy_rank(row: ClaimRow, t: dict[str, Any], camp: Campaign) -> None:
    model, want = t["model"], int(t["rank"])
    among = [m for m in t["among"] if m != model]
    # Comparators the plan trains on a set but without runs yet stay in as "may be better" (None), so a partial
    # campaign cannot make a rank hold by leaving a network out. The seed cap applies to the ranked network.
    names = [model]

    def judge(camp: Campaign, ds: str, metric: str, alias: dict[str, str]) -> Judged:
        me = alias.get(model, model)
        budget = me != model
        others = [o for o in among if camp.planned(ds, o) or (camp.planned(ds, o) is None and camp.variant_runs(ds, o))]
        others = [ar.budget_variant(camp, o) for o in others] if budget else others
        diffs = {o: pair(camp, ds, me, o, metric)[0] if ar.learned_seeds(camp, ds, o)[0] >= ar.MIN_SEEDS else None
                 for o in others}
        v, above, not_below = rank_verdict(diffs, want)
        means = {n: _mean(camp, ds, n, metric) for n in [me, *others] if camp.variant_runs(ds, n)}
        order = sorted(means, key=lambda k: -(means[k] or 0))
        j = Judged(v, f"{above} decidedly above, {not_below} not decidedly below (a comparator with fewer than "
                      f"{ar.MIN_SEEDS} learned seeds may be better)",
                   f"#{order.index(me) + 1} of {len(order)} by mean {metric}",
                   ", ".join(f"vs {o} {_fmt(d)}" for o, d in diffs.items()))
        j.short = j.ours
        j.details += [f"  {ds}: {me} - {o} = {_fmt(d)}" for o, d in diffs.items()]
        return j

    rule = (f"rank <= {want} among the paper's own comparators ({', '.join(among)}) by pairwise intervals: holds "
            f"when at most {want - 1} may be better, fails when {want} or more are decidedly better")
    _run_check(row, t, camp, names, judge, rule)


def check_accuracy_order(row: ClaimRow, t: dict[str, Any], camp: Campaign) -> None:
    models, worst = list(t["models"]), t["worst"]

    def judge(camp: Campaign, ds: str, metric: str, alias: dict[str, str]) -> Judged:
        diffs = {o: pair(camp, ds, alias[worst], alias[o], metric)[0] for o in models if o != worst}
        v = lowest_verdict(diffs)
        means = ", ".join(f"{alias[m]} {_mean(camp, ds, alias[m], metric) or float('nan'):.3f}" for m in models)
        below = f"{worst} decidedly below {sum(d is not None and d.hi < 0 for d in diffs.values())} of {len(diffs)}"
        return Judged(v, below, f"{means} ({metric})", ", ".join(f"{worst} - {o} {_fmt(d)}" for o, d in diffs.items()),
                      short=below)

    _run_check(row, t, camp, models, judge,
               f"{worst} must be decidedly below every other of {', '.join(models)} (pairwise intervals)")


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

    def judge(camp: Campaign, ds: str, metric: str, alias: dict[str, str]) -> Judged:
        m, n, b = alias[model], alias[none], alias[base]
        ci_a, info_a = pair(camp, ds, m, n, metric)
        ci_b, info_b = pair(camp, ds, m, b, metric)
        ci_c, _ = pair(camp, ds, n, b, metric)
        (va, why_a), (vb, why_b), drop = decide(ci_a, 0.0), decide(ci_b, thr), decide(ci_c, thr)[0]
        premise = ("there is a drop to recover" if drop == FAILS else "there is no drop to recover" if drop == HOLDS
                   else "whether there is a drop is undecided")
        v = FAILS if va == FAILS else HOLDS if va == vb == HOLDS else PART if (va, vb) == (HOLDS, FAILS) \
            else INCONCLUSIVE
        if drop == HOLDS and va != HOLDS:  # no drop to recover and WS adds nothing: the claim's story fails here
            v = FAILS
        j = Judged(v, f"WS gain: {why_a}; vs {b}: {why_b}; premise: {premise}",
                   f"WS gain {_fmt(ci_a)}, vs U-Net {_fmt(ci_b)}, no WS vs U-Net {_fmt(ci_c)}",
                   f"{metric} vs {n} {_fmt(ci_a)} ({info_a}); vs {b} {_fmt(ci_b)} ({info_b})")
        j.short = f"WS gain {_fmt(ci_a)}, vs U-Net {_fmt(ci_b)}"
        j.details += [f"{ds}: (a) {m} - {n} {metric} = {_fmt(ci_a)} ({info_a}) -> {va}",
                      f"{ds}: (b) {m} - {b} {metric} = {_fmt(ci_b)} ({info_b}) -> {vb} (margin {-thr:.2f})",
                      f"{ds}: premise: {n} - {b} {metric} = {_fmt(ci_c)}: {premise} => {v}"]
        return j

    _run_check(row, t, camp, [model, none, base], judge,
               "(a) WS must improve on no WS (> 0) and (b) SD-UNet must be comparable with U-Net (> -margin); (c) "
               "where no WS is already comparable with U-Net and WS adds nothing, there is no drop to recover")


def ablation_table(camp: Campaign, datasets: list[str], variants: list[str], ref: str) -> list[list[str]]:
    """Rows [data set, variant, seeds, images, mean [CI], diff vs ref [CI]] for the WS ablation table."""
    rows = []
    for ds in camp.match(datasets):
        metric = metric_for({"metric": "dice"}, ds, camp)
        for v in variants:
            if camp.planned(ds, v) is False:
                continue
            per = camp.per_image(ds, v, metric, learned_only=True)
            if not per:
                rows.append([ds, v, "0", "0", PENDING, "-"])
                continue
            mi = mean_interval(per)
            d = compare(per, camp.per_image(ds, ref, metric)) if v != ref else None
            rows.append([ds, v, str(len(camp.seeds(ds, v))), str(mi.n if mi else 0),
                         f"{metric} {mi.fmt(signed=False)}" if mi else "-",
                         d.fmt() if d else "-"])
    return rows


ACCURACY_CHECKS = {"accuracy_diff": check_accuracy_diff, "accuracy_rank": check_accuracy_rank,
                   "accuracy_order": check_accuracy_order, "ws_ablation": check_ws_ablation}
