"""Checks from measured CPU speed (edgeseg-bench/1 results), with the ratio rule of `checks_static`.

* A ratio to the claim's baseline measured in the same results file with the same backend, precision, device,
  threads, batch and H x W, tested against the PAPER's factor (its own figure, e.g. SD-UNet's 188/107 = 1.76x,
  not a weaker "faster" threshold) by the header's ratio rule: a point figure two-sided, a bound one-sided.
* One aggregation rule across configurations, for ratios and orders alike (`verdicts.combine`, also the rule
  across data sets): every deciding configuration is judged on its own; all hold -> holds; at least one holds or
  holds in part -> holds in part; none, one failing -> does not hold; none measured -> inconclusive.
  The reason says how many of the n deciding configurations hold.
* Where a configuration was also timed interleaved (every network in one process, rotated rounds:
  `edgeseg.bench.matrix_interleaved`), the interleaved run decides it and its sequentially timed twins are
  shown as context: a sequential matrix times each network at another moment, so on a shared machine its
  ratios carry the drift. Configurations never timed interleaved still decide.
* Absolute times on the paper's GPU (K40c, A100) cannot be reproduced on our CPU: only the ratio is tested.
"""

from __future__ import annotations

from typing import Any

from edgeseg.bench.schema import TIMING_INTERLEAVED
from edgeseg.study.claims.checks_static import ratio_text, rule_ratio, rule_text
from edgeseg.study.claims.evidence import Evidence, aliases
from edgeseg.study.claims.per_image import per_image_notes
from edgeseg.study.claims.verdicts import FAILS, HOLDS, PART, ClaimRow, combine


def _latency(r: dict[str, Any]) -> float | None:
    lat = r.get("latency_ms") or {}
    v = lat.get("p50") if isinstance(lat, dict) else None
    if v is None and isinstance(lat, dict):
        v = lat.get("mean")
    return float(v) if isinstance(v, (int, float)) and v > 0 else None


def _bench_groups(ev: Evidence) -> dict[tuple, dict[str, dict[str, Any]]]:
    """Results comparable with each other: same file, backend, precision, device, threads, batch, H x W."""
    groups: dict[tuple, dict[str, dict[str, Any]]] = {}
    for r in ev.bench:
        if _latency(r) is None:
            continue
        shape = list(r.get("input_shape") or [])
        key = (r["_file"], r.get("backend"), r.get("precision"), r.get("device"), r.get("threads"),
               r.get("batch", shape[0] if shape else None), tuple(shape[-2:]))
        groups.setdefault(key, {}).setdefault(r["model"], r)
    return groups


def _best_vs_best(ev: Evidence, model: str, base: str) -> list[tuple[str, float, str, str]]:
    """Per run (file, device, threads, batch, H x W): base's fastest artifact / model's fastest artifact, any
    backend and precision (issue 12: networks compared at their best, not at one precision)."""
    best: dict[tuple, dict[str, dict[str, Any]]] = {}
    for r in ev.bench:
        lat = _latency(r)
        if lat is None or r["model"] not in (model, base):
            continue
        shape = list(r.get("input_shape") or [])
        key = (r["_file"], r.get("device"), r.get("threads"), r.get("batch", shape[0] if shape else None),
               tuple(shape[-2:]))
        cur = best.setdefault(key, {}).get(r["model"])
        if cur is None or lat < _latency(cur):
            best[key][r["model"]] = r
    out = []
    for key, pair in sorted(best.items(), key=lambda kv: [str(x) for x in kv[0]]):
        if model in pair and base in pair:
            m, b = pair[model], pair[base]
            out.append((key[0], _latency(b) / _latency(m), f"{m.get('backend')} {m.get('precision')}",
                        f"{b.get('backend')} {b.get('precision')}"))
    return out


def _split_timing(items: list[tuple[tuple, dict[str, dict[str, Any]]]],
                  names: list[str]) -> tuple[set[tuple], set[tuple]]:
    """(interleaved, context) group keys; every group not in context decides. A group is interleaved when the
    compared networks' rows were timed in one process in rotated rounds (edgeseg.bench.matrix_interleaved). A
    sequentially timed group is context where an interleaved group has its configuration (backend, precision,
    device, threads, batch, H x W: the key without the file), because its ratio carries the machine's drift
    between networks; elsewhere it decides."""
    inter = {key for key, group in items
             if all((_find(group, n) or {}).get("timing") == TIMING_INTERLEAVED for n in names)}
    covered = {key[1:] for key in inter}
    return inter, {key for key, _ in items if key not in inter and key[1:] in covered}


def _group_label(key: tuple) -> str:
    _, backend, precision, device, threads, batch, hw = key
    return (f"{backend} {precision} {device} threads={threads} batch={batch} "
            f"{'x'.join(str(d) for d in hw) if hw else '?'}")


def _find(group: dict[str, dict[str, Any]], name: str) -> dict[str, Any] | None:
    for a in aliases(name):
        if a in group:
            return group[a]
    return None


def _skipped_notes(ev: Evidence, names: list[str]) -> list[str]:
    """Bench configurations that were not run for these models (e.g. TensorRT without a GPU), with why."""
    wanted = {a for n in names for a in aliases(n)}
    # A skip is stale when the same model and backend were measured in another results file (e.g. an export
    # that failed in one run and was fixed and measured later): listing it would contradict the evidence.
    measured = {(r["model"], r.get("backend")) for r in ev.bench if _latency(r) is not None}
    seen, out = set(), []
    for s in ev.skipped:
        if (s["model"], s.get("backend")) in measured:
            continue
        if s["model"] in wanted:
            line = (f"not measured: {s['model']} {s.get('backend')} {s.get('precision')}: {s.get('reason')} "
                    f"[{s['_file']}]")
            if line not in seen:
                seen.add(line)
                out.append(line)
    return out


def _check_latency_ratio(row: ClaimRow, t: dict[str, Any], ev: Evidence) -> None:
    if isinstance(t["model"], list):  # several figures of one sentence (UNet#'s FPS per pruning level): one row
        subs = []
        for m, f in zip(t["model"], t["factor"], strict=True):
            sub = ClaimRow(row.id, m, row.kind, row.paper_figure)
            _check_latency_ratio(sub, {**t, "model": m, "factor": f}, ev)
            subs.append(sub)
        decided = [s for s in subs if s.ours != "-"]
        if not decided:
            row.why = subs[0].why
            return
        row.verdict = combine([s.verdict for s in decided])
        row.ours = "; ".join(f"{s.model} {s.ours}" for s in decided)
        row.ratio = "; ".join(s.ratio for s in decided)
        row.why = "; ".join(f"{s.model}: {s.verdict}" for s in subs) + f" ({subs[0].why})"
        row.evidence = sorted({e for s in subs for e in s.evidence})
        row.details = [d for s in subs for d in s.details]
        return
    model, base, factor, tol = t["model"], t["baseline"], float(t["factor"]), float(t["tolerance"])
    bound = t.get("bound", "point")
    if not ev.bench:
        row.why = "no bench results (edgeseg-bench/1 files) in the results folder"
        return
    verdicts, ratios = [], []
    pairs = [kv for kv in sorted(_bench_groups(ev).items(), key=lambda kv: [str(x) for x in kv[0]])
             if _find(kv[1], model) is not None and _find(kv[1], base) is not None]
    inter, context = _split_timing(pairs, [model, base])
    for key, group in pairs:
        m, b = _find(group, model), _find(group, base)
        r = _latency(b) / _latency(m)
        v = rule_ratio(r, factor, tol, bound)
        if key not in context:
            verdicts.append(v)
            ratios.append(r)
        row.evidence.append(key[0])
        cm, cb = (list(x.get("input_shape") or [None, None])[1] for x in (m, b))
        chans = f" (input channels {model} {cm} vs {base} {cb})" if cm != cb else ""
        row.details.append(f"{'context, timed sequentially: ' if key in context else ''}"
                           f"{_group_label(key)}: {base} {_latency(b):.2f} ms / {model} {_latency(m):.2f} ms "
                           f"= {r:.2f}x{chans} -> {v} [{key[0]}]")
    row.evidence = sorted(set(row.evidence))
    row.details += _skipped_notes(ev, [model, base])
    if not verdicts:
        row.why = f"no bench configuration has both {model} and {base} (same file/backend/precision/threads/batch/size)"
        return
    row.verdict = combine(verdicts)
    lo, hi = min(ratios), max(ratios)
    row.ours = f"{lo:.2f}x" if lo == hi else f"{lo:.2f}x to {hi:.2f}x"
    row.ratio = ratio_text(lo / factor) if lo == hi else f"{ratio_text(lo / factor)} to {ratio_text(hi / factor)}"
    row.why = (f"{base} p50 latency / {model} p50 latency vs the paper's {factor:g}x "
               f"({rule_text(factor, tol, bound)}): {sum(v == HOLDS for v in verdicts)} of {len(ratios)} "
               "deciding configuration(s) hold"
               + (f" ({len(inter)} timed interleaved)" if inter else "")
               + "; the same-precision rows decide the verdict, the best-vs-best rows are shown beside them"
               + (f"; {len(context)} sequentially timed configuration(s) with an interleaved twin are shown as "
                  "context" if context else ""))
    for f, r, mb, bb in _best_vs_best(ev, model, base):
        row.details.append(f"best vs best [{f}]: {base} at its fastest ({bb}) / {model} at its fastest ({mb}) "
                           f"= {r:.2f}x (random weights: Dice budgets are checked by edgeseg optimize)")
    row.details += per_image_notes(ev, model, base)


def _check_latency_order(row: ClaimRow, t: dict[str, Any], ev: Evidence) -> None:
    models = t["models"]
    if not ev.bench:
        row.why = "no bench results (edgeseg-bench/1 files) in the results folder"
        return
    verdicts, ends = [], []
    full = [kv for kv in sorted(_bench_groups(ev).items(), key=lambda kv: [str(x) for x in kv[0]])
            if all(_find(kv[1], m) is not None for m in models)]
    inter, context = _split_timing(full, models)
    for key, group in full:
        lats = [_latency(_find(group, m)) for m in models]
        ordered = all(a < b for a, b in zip(lats, lats[1:], strict=False))
        v = HOLDS if ordered else PART if lats[0] < lats[-1] else FAILS
        if key not in context:
            verdicts.append(v)
            ends.append(lats[-1] / lats[0])
        row.evidence.append(key[0])
        row.details.append(f"{'context, timed sequentially: ' if key in context else ''}"
                           f"{_group_label(key)}: " + ", ".join(
            f"{m} {x:.2f} ms" for m, x in zip(models, lats, strict=True))
                           + f" -> {v} [{key[0]}]")
    row.evidence = sorted(set(row.evidence))
    row.details += _skipped_notes(ev, models)
    if not verdicts:
        row.why = f"no bench configuration has all of {', '.join(models)}"
        return
    row.verdict = combine(verdicts)
    row.ours = (f"ordered in {sum(v == HOLDS for v in verdicts)}/{len(verdicts)} configurations"
                + (f" ({len(inter)} timed interleaved)" if inter else ""))
    if t.get("paper_end_ratio"):  # how far apart the two ends are, beside the paper's (an order hides it)
        lo, hi = min(ends), max(ends)
        span = f"{lo:.1f}x" if lo == hi else f"{lo:.1f}x to {hi:.1f}x (median {sorted(ends)[len(ends) // 2]:.1f}x)"
        row.ours += f"; {models[-1]} / {models[0]} latency {span} vs the paper's about {t['paper_end_ratio']:g}x"
    row.why = ("median latency must increase strictly from the most pruned to the full model in each configuration"
               + (f"; {len(context)} sequentially timed configuration(s) with an interleaved twin are shown as "
                  "context" if context else ""))
