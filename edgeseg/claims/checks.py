"""Check each paper claim against committed results (the rules behind every verdict in CLAIMS.md).

Verdicts: "holds" / "holds in part" / "does not hold" / "not testable here" (always with the reason).
Rules (tolerance `t` per claim, in its papers/*.json):
* absolute figures: |ours/paper - 1| <= t holds, <= 2t holds in part, else does not hold; a "max" bound holds
  if ours <= paper x (1 + t).
* "Nx fewer/smaller/faster" ratios r = baseline/ours: r >= N(1 - t) holds; 1 < r and r >= N/2 holds in part
  (same direction, clearly smaller factor); else does not hold.
* speed: a ratio to OUR U-Net measured in the same results file with the same backend, precision, device,
  threads, batch and H x W; checked on every such configuration; all hold -> holds, some -> holds in part.
* accuracy: relative to our U-Net (or the other networks) in the same training-results file (same data set
  and recipe): "close" r = ours/U-Net >= 1 - t; "better" r > 1 (within t: holds in part, on par).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgeseg.claims.catalog import all_claims, load_papers
from edgeseg.claims.evidence import Evidence, aliases, load_evidence

HOLDS, PART, FAILS, UNTESTABLE = "holds", "holds in part", "does not hold", "not testable here"
VERDICTS = (HOLDS, PART, FAILS, UNTESTABLE)
FIELD = {"params": "params", "macs": "macs", "flops": "flops", "size": "size_mb_fp32"}


@dataclass
class ClaimRow:
    id: str
    model: str
    kind: str
    paper_figure: str
    ours: str = "-"
    ratio: str = "-"          # ours / paper's figure (or our factor / paper's factor)
    verdict: str = UNTESTABLE
    why: str = ""
    evidence: list[str] = field(default_factory=list)
    details: list[str] = field(default_factory=list)
    claim: dict[str, Any] = field(default_factory=dict, repr=False)


# ---------- formatting ----------

def _fmt(kind: str, v: float) -> str:
    if kind == "params":
        return f"{v / 1e6:.3f}M" if v >= 1e5 else f"{v / 1e3:.1f}K"
    if kind in ("macs", "flops"):
        unit = "MACs" if kind == "macs" else "FLOPs"
        return f"{v / 1e9:.3f} G{unit}" if v >= 1e8 else f"{v / 1e6:.2f} M{unit}"
    if kind == "size":
        return f"{v:.2f} MB"
    return f"{v:.4g}"


def _r(x: float) -> str:
    """A ratio for the table: 3 decimals near 1, significant figures when far from it."""
    return f"{x:.3f}" if 0.01 <= x < 100 else f"{x:.3g}"


def _shape(s: Any) -> str:
    return "x".join(str(int(d)) for d in s) if isinstance(s, (list, tuple)) else "?"


def _rule_abs(ours: float, paper: float, tol: float, bound: str = "approx") -> str:
    if bound == "max":
        return HOLDS if ours <= paper * (1 + tol) else FAILS
    err = abs(ours / paper - 1)
    return HOLDS if err <= tol else PART if err <= 2 * tol else FAILS


def _rule_ratio(r: float, factor: float, tol: float) -> str:
    if r >= factor * (1 - tol):
        return HOLDS
    return PART if r > 1 and r >= factor / 2 else FAILS


def _combine(verdicts: list[str]) -> str:
    if all(v == HOLDS for v in verdicts):
        return HOLDS
    if any(v in (HOLDS, PART) for v in verdicts):
        return PART
    return FAILS


# ---------- models table ----------

def _pick(rows: list[dict[str, Any]], shape: list[int] | None) -> dict[str, Any]:
    """The row at `shape` (C,H,W) if there is one, else the same HxW, else the first (reference input)."""
    if shape:
        for r in rows:
            if list(r.get("input_shape") or []) == list(shape):
                return r
        for r in rows:
            if list(r.get("input_shape") or [])[1:] == list(shape)[1:]:
                return r
    return rows[0]


def _value(row: dict[str, Any], kind: str) -> float | None:
    v = row.get(FIELD[kind])
    if v is None and kind == "flops" and row.get("macs") is not None:
        v = 2 * row["macs"]  # the toolkit's convention: FLOPs = 2 x MACs
    if v is None and kind == "size" and row.get("params") is not None:
        v = row["params"] * 4 / 1e6
    return float(v) if v is not None else None


def _pixels(shape: Any) -> int | None:
    return int(shape[-1]) * int(shape[-2]) if isinstance(shape, (list, tuple)) and len(shape) >= 2 else None


def _no_models(ev: Evidence, name: str) -> str:
    if not ev.models:
        return "no models results (write them with `edgeseg models --json > benchmarks/results/models.json`)"
    return f"no row for {name!r} in the models results"


def _check_absolute(row: ClaimRow, t: dict[str, Any], ev: Evidence) -> None:
    kind, model = t["kind"], t["model"]
    rows = ev.model_rows(model)
    if not rows:
        row.why = _no_models(ev, model)
        return
    r = _pick(rows, t.get("input"))
    ours = _value(r, kind)
    row.evidence = [r["_file"]]
    if ours is None:
        row.why = f"{r['_file']} has no {FIELD[kind]!r} for {model}"
        return
    notes = [f"{model} at {_shape(r.get('input_shape'))}"]
    if kind in ("macs", "flops") and t.get("input") and list(r.get("input_shape") or [])[1:] != list(t["input"])[1:]:
        p0, p1 = _pixels(r.get("input_shape")), _pixels(t["input"])
        if not (p0 and p1):
            row.why = f"{model}'s row has no usable input_shape to compare with the paper's {_shape(t['input'])}"
            return
        ours *= p1 / p0
        notes.append(f"scaled by pixel count to the paper's {_shape(t['input'])}")
    paper = float(t["value"])
    row.ours = _fmt(kind, ours)
    row.ratio = _r(ours / paper)
    row.verdict = _rule_abs(ours, paper, float(t["tolerance"]), t.get("bound", "approx"))
    bound = "at most" if t.get("bound") == "max" else f"within {float(t['tolerance']):.0%} of"
    row.why = f"ours {row.ours} vs paper {_fmt(kind, paper)} (test: {bound} the paper's figure); " + "; ".join(notes)
    if t.get("show_2x_params") and r.get("params"):
        row.why += (f"; 2 x our params = {2 * r['params'] / 1e6:.2f}M, which is what the paper's figure matches "
                    "(a parameter-proportional count, not per-image compute)")


def _check_model_ratio(row: ClaimRow, t: dict[str, Any], ev: Evidence) -> None:
    kind, model, base = t["kind"], t["model"], t["baseline"]
    field_kind = {"params_ratio": "params", "size_ratio": "size", "compute_ratio": "macs"}[kind]
    mrows, brows = ev.model_rows(model), ev.model_rows(base)
    if not mrows or not brows:
        row.why = _no_models(ev, model if not mrows else base)
        return
    m = _pick(mrows, t.get("input"))
    b = _pick(brows, m.get("input_shape") if kind == "compute_ratio" else None)
    vm, vb = _value(m, field_kind), _value(b, field_kind)
    row.evidence = sorted({m["_file"], b["_file"]})
    if vm is None or vb is None or vm <= 0:
        row.why = f"missing {FIELD[field_kind]!r} for {model if vm is None else base} in the models results"
        return
    notes = []
    if kind == "compute_ratio":
        sm, sb = m.get("input_shape"), b.get("input_shape")
        if list(sm or [])[1:] != list(sb or [])[1:]:
            pm, pb = _pixels(sm), _pixels(sb)
            if not (pm and pb):
                row.why = "the models results lack input shapes, so MACs cannot be compared at the same input"
                return
            vb *= pm / pb
            notes.append(f"{base} MACs scaled by pixel count from {_shape(sb)} to {_shape(sm)} "
                         "(exact for these all-convolutional nets when H, W divide by 16)")
        if list(sm or [])[:1] != list(sb or [])[:1]:
            notes.append(f"input channels differ ({_shape(sm)} vs {_shape(sb)}): affects only the first conv")
    r = vb / vm
    factor, tol = float(t["factor"]), float(t["tolerance"])
    row.ours = f"{_fmt(field_kind, vb)} / {_fmt(field_kind, vm)} = {r:.2f}x"
    row.ratio = _r(r / factor)
    row.verdict = _rule_ratio(r, factor, tol)
    if t.get("paper_baseline_value"):
        pb = float(t["paper_baseline_value"])
        notes.append(f"against the paper's own U-Net ({_fmt(field_kind, pb)}) our {model} would give {pb / vm:.2f}x")
    row.why = (f"our {base} / {model} = {r:.2f}x vs the paper's {factor:g}x "
               f"(holds at >= {factor * (1 - tol):.2f}x)" + ("; " + "; ".join(notes) if notes else ""))


# ---------- bench results ----------

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
    seen, out = set(), []
    for s in ev.skipped:
        if s["model"] in wanted:
            line = (f"not measured: {s['model']} {s.get('backend')} {s.get('precision')}: {s.get('reason')} "
                    f"[{s['_file']}]")
            if line not in seen:
                seen.add(line)
                out.append(line)
    return out


def _check_latency_ratio(row: ClaimRow, t: dict[str, Any], ev: Evidence) -> None:
    model, base, factor, tol = t["model"], t["baseline"], float(t["factor"]), float(t["tolerance"])
    if not ev.bench:
        row.why = "no bench results (edgeseg-bench/1 files) in the results folder"
        return
    verdicts, ratios = [], []
    for key, group in sorted(_bench_groups(ev).items(), key=lambda kv: [str(x) for x in kv[0]]):
        m, b = _find(group, model), _find(group, base)
        if m is None or b is None:
            continue
        r = _latency(b) / _latency(m)
        v = _rule_ratio(r, factor, tol)
        verdicts.append(v)
        ratios.append(r)
        row.evidence.append(key[0])
        cm, cb = (list(x.get("input_shape") or [None, None])[1] for x in (m, b))
        chans = f" (input channels {model} {cm} vs {base} {cb})" if cm != cb else ""
        row.details.append(f"{_group_label(key)}: {base} {_latency(b):.2f} ms / {model} {_latency(m):.2f} ms "
                           f"= {r:.2f}x{chans} -> {v} [{key[0]}]")
    row.evidence = sorted(set(row.evidence))
    row.details += _skipped_notes(ev, [model, base])
    if not verdicts:
        row.why = f"no bench configuration has both {model} and {base} (same file/backend/precision/threads/batch/size)"
        return
    row.verdict = _combine(verdicts)
    lo, hi = min(ratios), max(ratios)
    row.ours = f"{lo:.2f}x" if lo == hi else f"{lo:.2f}x to {hi:.2f}x"
    row.ratio = _r(lo / factor) if lo == hi else f"{_r(lo / factor)} to {_r(hi / factor)}"
    row.why = (f"{base} p50 latency / {model} p50 latency over {len(ratios)} configuration(s), "
               f"{sum(v == HOLDS for v in verdicts)} at >= {factor * (1 - tol):.2f}x")


def _check_latency_order(row: ClaimRow, t: dict[str, Any], ev: Evidence) -> None:
    models = t["models"]
    if not ev.bench:
        row.why = "no bench results (edgeseg-bench/1 files) in the results folder"
        return
    verdicts = []
    for key, group in sorted(_bench_groups(ev).items(), key=lambda kv: [str(x) for x in kv[0]]):
        found = [_find(group, m) for m in models]
        if any(f is None for f in found):
            continue
        lats = [_latency(f) for f in found]
        ordered = all(a < b for a, b in zip(lats, lats[1:], strict=False))
        v = HOLDS if ordered else PART if lats[0] < lats[-1] else FAILS
        verdicts.append(v)
        row.evidence.append(key[0])
        row.details.append(f"{_group_label(key)}: " + ", ".join(
            f"{m} {x:.2f} ms" for m, x in zip(models, lats, strict=True))
                           + f" -> {v} [{key[0]}]")
    row.evidence = sorted(set(row.evidence))
    row.details += _skipped_notes(ev, models)
    if not verdicts:
        row.why = f"no bench configuration has all of {', '.join(models)}"
        return
    row.verdict = _combine(verdicts)
    row.ours = f"ordered in {sum(v == HOLDS for v in verdicts)}/{len(verdicts)} configurations"
    row.why = "median latency must increase strictly from the most pruned to the full model in each configuration"


# ---------- training results ----------

def _metric(doc: dict[str, Any], name: str, metric: str) -> float | None:
    vals = [float(r[metric]) for r in doc["runs"]
            if r["model"] in aliases(name) and isinstance(r.get(metric), (int, float))]
    return sum(vals) / len(vals) if vals else None  # mean over repeated runs (seeds) of one network


def _docs(row: ClaimRow, t: dict[str, Any], ev: Evidence) -> list[dict[str, Any]]:
    wanted = [d.lower() for d in t["datasets"]]
    docs = [d for d in ev.train if any(w in str(d.get("dataset", "")).lower() for w in wanted)]
    if not ev.train:
        row.why = "no training results (edgeseg-train/1 files, e.g. train-*.json) in the results folder"
    elif not docs:
        have = ", ".join(sorted({str(d.get("dataset")) for d in ev.train}))
        row.why = f"no training results on a matching data set ({'/'.join(t['datasets'])}); have: {have}"
    return docs


def _ds(doc: dict[str, Any]) -> str:
    fg = doc.get("foreground")
    return f"{doc.get('dataset')} (foreground {fg})" if fg else str(doc.get("dataset"))


def _check_accuracy_ratio(row: ClaimRow, t: dict[str, Any], ev: Evidence) -> None:
    model, base, metric, tol, mode = t["model"], t["baseline"], t["metric"], float(t["tolerance"]), t["mode"]
    verdicts, ratios = [], []
    for doc in _docs(row, t, ev):
        m, b = _metric(doc, model, metric), _metric(doc, base, metric)
        if m is None or b is None or b <= 0:
            continue
        r = m / b
        if mode == "close":
            v = HOLDS if r >= 1 - tol else PART if r >= 1 - 2 * tol else FAILS
        else:  # "better"
            v = HOLDS if r > 1 else PART if r >= 1 - tol else FAILS
        verdicts.append(v)
        ratios.append(r)
        row.evidence.append(doc["_file"])
        row.details.append(f"{_ds(doc)}: {model} {metric} {m:.4f} vs {base} {b:.4f} = {r:.3f} -> {v} "
                           f"[{doc['_file']}]")
    if not verdicts:
        row.why = row.why or f"no training-results file has {metric} for both {model} and {base}"
        return
    row.verdict = _combine(verdicts)
    row.ours = ", ".join(d.split(" = ")[0].split(" [")[0] for d in row.details)
    row.ratio = ", ".join(_r(r) for r in ratios)
    row.why = (f"{model} / {base} {metric}: " + ("'close' means >= " + f"{1 - tol:.2f}" if mode == "close"
                                                   else f"'better' means > 1 (>= {1 - tol:.2f}: on par, in part)"))


def _ranked(doc: dict[str, Any], metric: str) -> dict[str, float]:
    names = sorted({r["model"] for r in doc["runs"]})
    vals = {n: _metric(doc, n, metric) for n in names}
    return {n: v for n, v in vals.items() if v is not None}


def _check_accuracy_rank(row: ClaimRow, t: dict[str, Any], ev: Evidence) -> None:
    model, metric, want = t["model"], t["metric"], int(t["rank"])
    verdicts, parts = [], []
    for doc in _docs(row, t, ev):
        vals = _ranked(doc, metric)
        mine = next((vals[a] for a in aliases(model) if a in vals), None)
        if mine is None or len(vals) <= want:
            continue
        rank = 1 + sum(v > mine for v in vals.values())
        v = HOLDS if rank <= want else FAILS
        verdicts.append(v)
        row.evidence.append(doc["_file"])
        order = ", ".join(f"{n} {x:.4f}" for n, x in sorted(vals.items(), key=lambda kv: -kv[1]))
        row.details.append(f"{_ds(doc)}: rank {rank} of {len(vals)} by {metric} ({order}) -> {v} "
                           f"[{doc['_file']}]")
        parts.append(f"{_ds(doc)}: rank {rank} of {len(vals)}")
    if not verdicts:
        row.why = row.why or f"no matching training results with {model} and more than {want} networks"
        return
    row.verdict = _combine(verdicts)
    row.ours = "; ".join(parts)
    row.why = f"rank of {model} by {metric} among the networks trained on the same data with the same recipe"


def _check_accuracy_order(row: ClaimRow, t: dict[str, Any], ev: Evidence) -> None:
    models, worst, metric = t["models"], t["worst"], t["metric"]
    verdicts = []
    for doc in _docs(row, t, ev):
        vals = {m: _metric(doc, m, metric) for m in models}
        if any(v is None for v in vals.values()):
            continue
        low = min(vals, key=lambda k: vals[k])
        v = HOLDS if vals[worst] <= vals[low] else FAILS
        verdicts.append(v)
        row.evidence.append(doc["_file"])
        row.details.append(f"{_ds(doc)}: " + ", ".join(f"{m} {x:.4f}" for m, x in vals.items())
                           + f" -> {v} [{doc['_file']}]")
    if not verdicts:
        row.why = row.why or f"no matching training results with all of {', '.join(models)}"
        return
    row.verdict = _combine(verdicts)
    row.ours = "; ".join(d.split(" -> ")[0] for d in row.details)
    row.why = f"{worst} must have the lowest {metric} of {', '.join(models)}"


CHECKS = {
    "params": _check_absolute, "macs": _check_absolute, "flops": _check_absolute, "size": _check_absolute,
    "params_ratio": _check_model_ratio, "size_ratio": _check_model_ratio, "compute_ratio": _check_model_ratio,
    "latency_ratio": _check_latency_ratio, "latency_order": _check_latency_order,
    "accuracy_ratio": _check_accuracy_ratio, "accuracy_rank": _check_accuracy_rank,
    "accuracy_order": _check_accuracy_order,
}


def check_claims(results_dir: str | Path, papers: list[dict[str, Any]] | None = None) -> list[ClaimRow]:
    """One ClaimRow per claim, in the papers' order, from the committed results in `results_dir`."""
    ev = load_evidence(results_dir)
    rows = []
    for claim in all_claims(papers if papers is not None else load_papers()):
        t = claim["test"]
        row = ClaimRow(id=claim["id"], model=claim["_paper"], kind=t["kind"], paper_figure=claim["paper_figure"],
                       claim=claim)
        CHECKS[t["kind"]](row, t, ev)
        if row.verdict == UNTESTABLE and not row.why:
            row.why = "no evidence"
        rows.append(row)
    return rows
