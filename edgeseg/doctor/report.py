"""The doctor's Markdown summary (doctor.md beside doctor.json) and the dry-run plan."""

from __future__ import annotations

from typing import Any

from edgeseg.doctor.common import STAGES


def stage_limits(budget_s: float) -> list[tuple[str, str, int]]:
    """(name, title, limit s) with the limits cut so that their sum fits the budget (5 s kept for reports)."""
    total = sum(s.limit_s for s in STAGES)
    scale = min(1.0, max(0.0, budget_s - 5) / total)
    return [(s.name, s.title, int(s.limit_s * scale)) for s in STAGES]


def plan(budget_s: float, bundle: str, out: str) -> str:
    lines = [f"edgeseg doctor --gpu: {len(STAGES)} stages, budget {budget_s:.0f} s, bundle {bundle}, reports in "
             f"{out}/doctor.json and {out}/doctor.md"]
    for i, (name, title, limit) in enumerate(stage_limits(budget_s), 1):
        lines.append(f"  {i}. {name:<9} {limit:>4} s  {title}")
    lines.append("Each stage runs in its own process under its limit; a failure is recorded with its reason and "
                 "the next stage runs.")
    return "\n".join(lines)


def _fmt_lat(lat: dict[str, Any] | None) -> str:
    return "-" if not lat else f"{lat['p50']:.3f}"


def _cell(v: Any, spec: str = ".4f") -> str:
    return "-" if v is None else format(v, spec) if isinstance(v, float) else str(v)


def markdown(doc: dict[str, Any]) -> str:
    gpu = doc.get("gpu") or "no GPU"
    out = [f"# edgeseg doctor --gpu: {gpu}", "",
           f"{doc.get('created', '')}, budget {doc.get('budget_s')} s, took {doc.get('seconds')} s, "
           f"exit {doc.get('exit_code')}.", "", "| # | Stage | Limit s | Took s | Status | Reason |",
           "|---:|---|---:|---:|---|---|"]
    for i, st in enumerate(doc["stages"], 1):
        out.append(f"| {i} | {st['name']}: {st['title']} | {st['limit_s']} | {_cell(st.get('seconds'), '.1f')} | "
                   f"{st['status']} | {st.get('reason') or ''} |")
    for st in doc["stages"]:
        items = [it for it in st.get("items", []) if "model" in it]
        if not items:
            continue
        out += ["", f"## {st['name']}", "", "| Model | Backend | Prec | Status | max err | mask agree | Dice vs ONNX "
                "Runtime | p50 ms | p50 ms graph | mJ/image | Reason |", "|---|---|---|---|---:|---:|---:|---:|---:|"
                "---:|---|"]
        for it in items:
            out.append(f"| {it['model']} | {it.get('backend', '-')} | {it.get('precision', '-')} | {it['status']} | "
                       f"{_cell(it.get('max_abs_err'), '.3g')} | {_cell(it.get('mask_agree'))} | "
                       f"{_cell(it.get('dice_vs_ref'))} | {_fmt_lat(it.get('latency_ms'))} | "
                       f"{_fmt_lat(it.get('latency_graph_ms'))} | {_cell(it.get('energy_mj_per_image'), '.3f')} | "
                       f"{it.get('reason') or ''} |")
    env = next((st for st in doc["stages"] if st["name"] == "env"), None)
    libs = [it for it in (env or {}).get("items", []) if str(it.get("check", "")).startswith("library")]
    if libs:
        out += ["", "## Libraries", ""]
        out += [f"- {it['check'][8:]}: " + ((it.get("version") or "?") if it["present"] else
                                            f"missing; {it['install']}") for it in libs]
    return "\n".join(out) + "\n"
