"""Check each paper claim against committed results (the dispatcher behind every verdict in CLAIMS.md).

Three kinds of evidence, each with its own module and rules:
* static counts (params, MACs/FLOPs, size, their ratios and orders) from the models table, and measured
  CPU speed (latency ratios and orders) from bench results: `edgeseg.study.claims.checks_speed`;
* trained accuracy from the training campaign's per-image scores, with paired bootstrap intervals:
  `edgeseg.study.claims.checks_accuracy` (verdict rules and the "comparable" margin: `edgeseg.study.claims.verdicts`);
* training curves (kind "convergence", e.g. "WS converges faster"): `edgeseg.study.claims.checks_convergence`;
* claims that cannot be tested here (kind "untestable", verdict "not testable here") and claims that could be
  tested here but have not been run (kind "not_run", verdict "not run yet", with the flag that would run them):
  the claim file gives the reason.

A claim may carry a `mark`: "restates" (the verdict restates another claim's number, e.g. a ratio of two
counts already checked) or "by_construction" (it holds because our reconstruction was sized from the
paper's own figure), with `mark_note`; the report shows it beside the verdict.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edgeseg.profile.devices import device_bounds_context
from edgeseg.study.campaign_results import Campaign, load_campaign
from edgeseg.study.claims import checks_speed as sp
from edgeseg.study.claims import checks_static as st
from edgeseg.study.claims.catalog import all_claims, load_papers
from edgeseg.study.claims.checks_accuracy import ACCURACY_CHECKS
from edgeseg.study.claims.checks_convergence import check_convergence
from edgeseg.study.claims.checks_module import check_module_cost
from edgeseg.study.claims.evidence import Evidence, load_evidence
from edgeseg.study.claims.verdicts import (
    FAILS,
    HOLDS,
    INCONCLUSIVE,
    NOT_RUN,
    PART,
    UNTESTABLE,
    VERDICTS,
    ClaimRow,
)

__all__ = ["FAILS", "HOLDS", "INCONCLUSIVE", "NOT_RUN", "PART", "UNTESTABLE", "VERDICTS", "ClaimRow", "check_claims",
           "evidence_kind", "EVIDENCE_KINDS"]

STATIC_CHECKS = {
    "params": st._check_absolute, "macs": st._check_absolute, "flops": st._check_absolute,
    "size": st._check_absolute, "params_diff": st._check_params_diff, "params_ratio": st._check_model_ratio,
    "size_ratio": st._check_model_ratio,
    "compute_ratio": st._check_model_ratio, "static_order": st._check_static_order,
    "latency_ratio": sp._check_latency_ratio, "latency_order": sp._check_latency_order,
    "module_cost": check_module_cost,
}
EVIDENCE_KINDS = ("static counts", "measured speed", "trained accuracy")


def evidence_kind(claim: dict[str, Any]) -> str:
    """Which kind of evidence decides (or would decide) the claim: for the headline split."""
    kind = claim["test"]["kind"]
    if kind in ("untestable", "not_run"):
        return str(claim["test"].get("evidence", "trained accuracy"))
    if kind.startswith("latency"):
        return "measured speed"
    if kind in ACCURACY_CHECKS or kind == "convergence":
        return "trained accuracy"
    return "static counts"


def default_campaign_dir(results_dir: str | Path) -> Path:
    """The campaign lives in its own folder under the results folder (not classified by load_evidence)."""
    return Path(results_dir) / "campaign"


def measured_on_jetson(ev: Evidence, model: str) -> list[str]:
    """Lines for the times `deploy/jetson/bench.sh` measured for `model` on a Jetson (a bench row whose env
    records one), to sit beside the spec-sheet bound: what a device ran, not what it could run."""
    out = []
    for r in ev.bench:
        jet = (r.get("_env") or {}).get("jetson")
        p50 = (r.get("latency_ms") or {}).get("p50")
        if not jet or r.get("model") != model or p50 is None:
            continue
        shape = "x".join(map(str, r.get("input_shape") or []))
        out.append(f"Measured on a Jetson ({jet.get('module') or 'module not recorded'}, power mode "
                   f"{jet.get('power_mode') or '?'}): {r.get('backend')} {r.get('precision')} {shape} p50 "
                   f"{p50:.2f} ms ({r['_file']}), beside the bound above")
    return out


def check_claims(results_dir: str | Path, papers: list[dict[str, Any]] | None = None,
                 campaign: str | Path | Campaign | None = None) -> list[ClaimRow]:
    """One ClaimRow per claim, in the papers' order, from the committed results (campaign: results/campaign)."""
    ev: Evidence = load_evidence(results_dir)
    camp = campaign if isinstance(campaign, Campaign) else load_campaign(
        campaign if campaign is not None else default_campaign_dir(results_dir))
    rows = []
    for claim in all_claims(papers if papers is not None else load_papers()):
        t = claim["test"]
        row = ClaimRow(id=claim["id"], model=claim["_paper"], kind=t["kind"], paper_figure=claim["paper_figure"],
                       claim=claim)
        if t["kind"] == "untestable":
            row.why = str(t["reason"])
            bound = device_bounds_context(t["bounds_for"], Path(results_dir) / "profile" / "device-bounds.json") \
                if t.get("bounds_for") else None
            if bound:  # context beside the verdict, which stays "not testable here"
                row.details.append(bound)
                row.details += measured_on_jetson(ev, t["bounds_for"])
        elif t["kind"] == "not_run":
            row.verdict, row.why = NOT_RUN, f"{t['reason']} (would run with: {t['run_with']})"
        elif t["kind"] == "convergence":
            check_convergence(row, t, camp)
        elif t["kind"] in ACCURACY_CHECKS:
            ACCURACY_CHECKS[t["kind"]](row, t, camp)
        else:
            STATIC_CHECKS[t["kind"]](row, t, ev)
        if row.verdict == UNTESTABLE and not row.why:
            row.why = "no evidence"
        rows.append(row)
    return rows
