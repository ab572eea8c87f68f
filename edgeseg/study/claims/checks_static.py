"""Checks from static counts (models table), and the rules the speed checks share.

Rules (tolerance `t` per claim, in its papers/*.json):
* absolute figures: |ours/paper - 1| <= t holds, <= 2t holds in part, else does not hold; a "max" bound holds
  if ours <= paper x (1 + t).
* "Nx fewer/smaller/faster" ratios r = baseline/ours, by the claim's `bound`:
  - "point" (the paper states a figure, "8x fewer", "97 times less"): two-sided, |r/N - 1| <= t holds;
    1 < r and N/2 <= r <= 2N holds in part (same direction, clearly another factor); else does not hold;
  - "min" (the paper states a bound, "more than 4x fewer"): r >= N(1 - t) holds; 1 < r and r >= N/2 holds in
    part (same direction, clearly smaller factor); else does not hold.
  The ratio is computed against the paper's own baseline where we build it (`baseline`, e.g. GPU-Net's 34.5M
  LeeJunHyun U-Net), with our U-Net's ratio beside (`also_baseline`); `baseline_count` shows a count of the
  paper's baseline that we cannot build, labelled with where it comes from.
* "N more than" differences d = ours - baseline (`params_diff`): the absolute rule above on d.
* orders ("lightest", "third smallest behind A and B"): among the networks implemented here, exactly the
  networks the paper puts below the model must be below it; networks of the paper's comparison that are not
  implemented here make a consistent order "holds in part".
Speed checks (bench results) live in `edgeseg.study.claims.checks_speed` and use the ratio rule above.
"""

from __future__ import annotations

from typing import Any

from edgeseg.study.claims.evidence import Evidence
from edgeseg.study.claims.verdicts import FAILS, HOLDS, PART, UNTESTABLE, ClaimRow, combine

FIELD = {"params": "params", "macs": "macs", "flops": "flops", "size": "size_mb_fp32"}


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


def ratio_text(x: float) -> str:
    """A ratio for the table: 3 decimals near 1, significant figures when far from it."""
    return f"{x:.3f}" if 0.01 <= x < 100 else f"{x:.3g}"


def _shape(s: Any) -> str:
    return "x".join(str(int(d)) for d in s) if isinstance(s, (list, tuple)) else "?"


def _rule_abs(ours: float, paper: float, tol: float, bound: str = "approx") -> str:
    if bound == "max":
        return HOLDS if ours <= paper * (1 + tol) else FAILS
    err = abs(ours / paper - 1)
    return HOLDS if err <= tol else PART if err <= 2 * tol else FAILS


def rule_ratio(r: float, factor: float, tol: float, bound: str = "point") -> str:
    """Verdict of a measured factor r against the paper's N (see the module docstring for the two bounds)."""
    if bound == "min":
        if r >= factor * (1 - tol):
            return HOLDS
        return PART if r > 1 and r >= factor / 2 else FAILS
    if bound != "point":
        raise ValueError(f"unknown ratio bound {bound!r}; use 'point' or 'min'")
    if abs(r / factor - 1) <= tol:
        return HOLDS
    return PART if r > 1 and factor / 2 <= r <= 2 * factor else FAILS


def rule_text(factor: float, tol: float, bound: str = "point") -> str:
    """The test in words, for the report's reason column."""
    if bound == "min":
        return f"holds at >= {factor * (1 - tol):.2f}x"
    return f"holds within {factor * (1 - tol):.2f}x to {factor * (1 + tol):.2f}x, a point figure tested two-sided"


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
    if isinstance(t["model"], list):  # one claim giving several figures (UNet#'s pruning levels): one row
        subs = []
        for m, v in zip(t["model"], t["value"], strict=True):
            sub = ClaimRow(row.id, m, row.kind, row.paper_figure)
            _check_absolute(sub, {**t, "model": m, "value": v}, ev)
            subs.append(sub)
        missing = [s for s in subs if s.verdict == UNTESTABLE]
        if missing:
            row.why = missing[0].why
            return
        row.verdict = combine([s.verdict for s in subs])
        row.ours = "; ".join(f"{s.model} {s.ours}" for s in subs)
        row.ratio = "; ".join(s.ratio for s in subs)
        row.why = "; ".join(f"{s.model}: {s.verdict}, {s.why}" for s in subs)
        row.evidence = sorted({e for s in subs for e in s.evidence})
        return
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
    notes = [f"{model} at {_shape(r.get('input_shape'))}"] if kind in ("macs", "flops") else []
    if kind in ("macs", "flops") and t.get("input") and list(r.get("input_shape") or [])[1:] != list(t["input"])[1:]:
        p0, p1 = _pixels(r.get("input_shape")), _pixels(t["input"])
        if not (p0 and p1):
            row.why = f"{model}'s row has no usable input_shape to compare with the paper's {_shape(t['input'])}"
            return
        ours *= p1 / p0
        notes.append(f"scaled by pixel count to the paper's {_shape(t['input'])}")
    paper = float(t["value"])
    row.ours = _fmt(kind, ours)
    row.ratio = ratio_text(ours / paper)
    row.verdict = _rule_abs(ours, paper, float(t["tolerance"]), t.get("bound", "approx"))
    bound = "at most" if t.get("bound") == "max" else f"within {float(t['tolerance']):.0%} of"
    row.why = f"ours {row.ours} vs paper {_fmt(kind, paper)} (test: {bound} the paper's figure)" + "".join(
        f"; {n}" for n in notes)
    if t.get("show_2x_params") and r.get("params"):
        row.why += (f"; 2 x our params = {2 * r['params'] / 1e6:.2f}M, which is what the paper's figure matches "
                    "(a parameter-proportional count, not per-image compute)")


def _ratio(t: dict[str, Any], ev: Evidence, base: str) -> tuple[float, float, list[str], list[str]] | str:
    """(baseline value, model value, notes, evidence files) of one ratio, or the reason it cannot be computed."""
    kind, model = t["kind"], t["model"]
    field_kind = {"params_ratio": "params", "size_ratio": "size", "compute_ratio": "macs"}[kind]
    mrows, brows = ev.model_rows(model), ev.model_rows(base)
    if not mrows or not brows:
        return _no_models(ev, model if not mrows else base)
    m = _pick(mrows, t.get("input"))
    b = _pick(brows, m.get("input_shape") if kind == "compute_ratio" else None)
    vm, vb = _value(m, field_kind), _value(b, field_kind)
    if vm is None or vb is None or vm <= 0:
        return f"missing {FIELD[field_kind]!r} for {model if vm is None else base} in the models results"
    notes = []
    if kind == "compute_ratio":
        sm, sb = m.get("input_shape"), b.get("input_shape")
        if list(sm or [])[1:] != list(sb or [])[1:]:
            pm, pb = _pixels(sm), _pixels(sb)
            if not (pm and pb):
                return "the models results lack input shapes, so MACs cannot be compared at the same input"
            vb *= pm / pb
            notes.append(f"{base} MACs scaled by pixel count from {_shape(sb)} to {_shape(sm)} "
                         "(exact for these all-convolutional nets when H, W divide by 16)")
        if list(sm or [])[:1] != list(sb or [])[:1]:
            notes.append(f"input channels differ ({_shape(sm)} vs {_shape(sb)}): affects only the first conv")
    return vb, vm, notes, sorted({m["_file"], b["_file"]})


def _check_model_ratio(row: ClaimRow, t: dict[str, Any], ev: Evidence) -> None:
    """Ratio baseline / model against the paper's factor; `baseline` decides (the paper's own baseline where we
    build it), `also_baseline` (our U-Net) is shown beside."""
    kind, model, base = t["kind"], t["model"], t["baseline"]
    field_kind = {"params_ratio": "params", "size_ratio": "size", "compute_ratio": "macs"}[kind]
    got = _ratio(t, ev, base)
    if isinstance(got, str):
        row.why = got
        return
    vb, vm, notes, files = got
    row.evidence = files
    r = vb / vm
    factor, tol, bound = float(t["factor"]), float(t["tolerance"]), t.get("bound", "point")
    row.ours = f"{_fmt(field_kind, vb)} / {_fmt(field_kind, vm)} = {r:.2f}x"
    row.ratio = ratio_text(r / factor)
    row.verdict = rule_ratio(r, factor, tol, bound)
    also = t.get("also_baseline")
    if also:
        other = _ratio(t, ev, also)
        if isinstance(other, str):
            notes.append(f"against our {also}: {other}")
        else:
            ob, om, _, ofiles = other
            row.ours += f" (against our {also}: {ob / om:.2f}x)"
            row.evidence = sorted(set(row.evidence) | set(ofiles))
            notes.append(f"against our {also} ({_fmt(field_kind, ob)}) the ratio is {ob / om:.2f}x -> "
                         f"{rule_ratio(ob / om, factor, tol, bound)} (shown beside; the paper's baseline decides)")
    count = t.get("baseline_count")
    if count:
        pb = float(count["value"])
        notes.append(f"against {count['label']} ({_fmt(field_kind, pb)}) our {model} would give {pb / vm:.2f}x")
    row.why = (f"{base} / {model} = {r:.2f}x vs the paper's {factor:g}x ({rule_text(factor, tol, bound)})"
               + ("; " + "; ".join(notes) if notes else ""))


def _check_params_diff(row: ClaimRow, t: dict[str, Any], ev: Evidence) -> None:
    """'N more parameters than B': params(model) - params(baseline) against the paper's N (absolute rule)."""
    model, base = t["model"], t["baseline"]
    mrows, brows = ev.model_rows(model), ev.model_rows(base)
    if not mrows or not brows:
        row.why = _no_models(ev, model if not mrows else base)
        return
    m, b = _pick(mrows, None), _pick(brows, None)
    row.evidence = sorted({m["_file"], b["_file"]})
    d, paper = float(m["params"]) - float(b["params"]), float(t["value"])
    row.ours = f"{_fmt('params', float(m['params']))} - {_fmt('params', float(b['params']))} = {_fmt('params', d)}"
    row.ratio = ratio_text(d / paper)
    row.verdict = _rule_abs(d, paper, float(t["tolerance"]))
    row.why = (f"{model} - {base} = {_fmt('params', d)} vs the paper's {_fmt('params', paper)} (test: within "
               f"{float(t['tolerance']):.0%} of the paper's figure)")


def _check_static_order(row: ClaimRow, t: dict[str, Any], ev: Evidence) -> None:
    """`model` must be above exactly the networks of `below` among `among` (ascending params/MACs)."""
    model, below, among = t["model"], set(t.get("below") or []), list(t["among"])
    missing = list(t.get("not_implemented") or [])
    verdicts, parts = [], []
    for kind in t["fields"]:
        vals: dict[str, float] = {}
        for name in [model, *among]:
            rows = ev.model_rows(name)
            if not rows:
                if name != model and name not in missing:
                    missing.append(name)
                continue
            r = _pick(rows, t.get("input"))
            v = _value(r, kind)
            if v is None:
                continue
            if kind in ("macs", "flops") and t.get("input"):
                p0, p1 = _pixels(r.get("input_shape")), _pixels(t["input"])
                if p0 and p1:
                    v *= p1 / p0  # all-convolutional: compute scales with the pixel count
            vals[name] = v
            if r["_file"] not in row.evidence:
                row.evidence.append(r["_file"])
        if model not in vals:
            row.why = _no_models(ev, model)
            return
        order = sorted(vals, key=lambda k: vals[k])
        wrong = [n for n in vals if n != model and ((vals[n] < vals[model]) != (n in below))]
        v = FAILS if wrong else HOLDS
        verdicts.append(v)
        at = f" at {_shape(t['input'])}" if t.get("input") else ""
        row.details.append(f"{kind}{at}, ascending: " + ", ".join(f"{n} {_fmt(kind, vals[n])}" for n in order)
                           + (f"; out of place: {', '.join(wrong)}" if wrong else "") + f" -> {v}")
        parts.append(f"{kind}: {model} is #{order.index(model) + 1} of {len(order)} here")
    row.verdict = FAILS if FAILS in verdicts else PART if missing else HOLDS
    row.ours = "; ".join(parts)
    want = f"below it: {', '.join(sorted(below))}" if below else "nothing below it"
    row.why = (f"order by {' and '.join(t['fields'])} among the networks implemented here ({want})"
               + (f"; not implemented here, so not compared: {', '.join(missing)}" if missing else ""))
