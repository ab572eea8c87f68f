"""The papers' claims as data: `papers/<model>.json`, one file per paper, loaded and validated here.

Each claim carries an exact quote (checked against the seed text in tests), the paper's figure and its
unit/convention, where it is in the paper, the U-Net it was compared with, and a `test` block that says
how we check it (`kind`, model(s), the paper's value or factor, tolerance).

Optional fields: `provenance` ("code_readme" or "third_party", with `provenance_note` naming the source) for a
claim that is not the paper's own words (the report lists those apart, outside the headline counts; `from_paper`);
in a ratio test, `bound` ("point": a stated figure, tested two-sided; "min": a stated bound, one-sided),
`also_baseline` (our network shown beside the paper's baseline) and `baseline_count` ({value, label}: a count
of the paper's baseline that we cannot build, labelled with where it comes from); `mark` / `mark_note`.
"""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path
from typing import Any

from edgeseg.errors import EdgesegError

# kind -> required keys of the claim's "test" block.
KINDS: dict[str, tuple[str, ...]] = {
    "params": ("model", "value", "tolerance"),            # absolute parameter count
    "macs": ("model", "value", "tolerance"),              # absolute MACs per image
    "flops": ("model", "value", "tolerance"),             # absolute FLOPs (= 2 x MACs) per image
    "size": ("model", "value", "tolerance"),              # absolute MB (float32 weights)
    "params_diff": ("model", "baseline", "value", "tolerance"),  # "1.68M more than UNet": params(model) - params(base)
    "params_ratio": ("model", "baseline", "factor", "tolerance"),
    "compute_ratio": ("model", "baseline", "factor", "tolerance"),  # MACs ratio at the same input
    "size_ratio": ("model", "baseline", "factor", "tolerance"),
    "static_order": ("model", "fields", "among"),          # "lightest", "third smallest behind A and B"
    "latency_ratio": ("model", "baseline", "factor", "tolerance"),  # baseline latency / model latency
    "latency_order": ("models",),                          # latency increases along the list
    "module_cost": ("cin", "cout", "size", "tolerance"),   # GPU-Net Eq. 7-8, counted on our GPModule
    "accuracy_diff": ("model", "baseline", "mode", "metric", "datasets"),  # campaign, paired bootstrap
    "accuracy_rank": ("model", "rank", "metric", "datasets", "among"),
    "accuracy_order": ("models", "worst", "metric", "datasets"),
    "ws_ablation": ("model", "no_ws", "baseline", "metric", "datasets"),
    "convergence": ("model", "baseline", "datasets"),      # validation curves: edgeseg.study.claims.checks_convergence
    "untestable": ("reason", "evidence"),                  # the reason it cannot be tested here
    "not_run": ("reason", "evidence", "run_with"),         # testable here, not run yet: the flag/option that would
}
MARKS = ("restates", "by_construction")
# Ratio kinds state a factor: "point" = the paper gives a figure ("8x fewer", "97 times less"), tested two-sided;
# "min" = the paper gives a bound ("more than 4x fewer"), tested one-sided. Every ratio claim names its bound.
RATIO_KINDS = ("params_ratio", "compute_ratio", "size_ratio", "latency_ratio")
RATIO_BOUNDS = ("point", "min")
# Where the claim's words come from. A claim without the key is the paper's own words; the others are listed
# apart in the report and left out of its headline counts.
PROVENANCES = ("paper", "code_readme", "third_party")
CLAIM_KEYS = ("id", "quote", "quote_source", "where", "paper_figure", "unit", "baseline", "test")
PAPER_KEYS = ("paper", "citation", "model", "source_text", "paper_baseline", "our_baseline_note", "claims")


def normalize_quote(text: str) -> str:
    """Compare quotes modulo markdown/HTML bold and whitespace (tables in the seeds use tabs and <b>)."""
    text = text.replace("**", "").replace("<b>", "").replace("</b>", "")
    return re.sub(r"\s+", " ", text).strip()


def validate_paper(data: Any, origin: str) -> list[str]:
    """Problems with one papers/*.json document (empty list = valid)."""
    if not isinstance(data, dict):
        return [f"{origin}: top level must be an object"]
    problems = [f"{origin}: missing key {k!r}" for k in PAPER_KEYS if k not in data]
    claims = data.get("claims")
    if not isinstance(claims, list) or not claims:
        return problems + [f"{origin}: 'claims' must be a non-empty list"]
    for i, claim in enumerate(claims):
        where = f"{origin}: claim {claim.get('id', i) if isinstance(claim, dict) else i}"
        if not isinstance(claim, dict):
            problems.append(f"{where}: must be an object")
            continue
        problems += [f"{where}: missing key {k!r}" for k in CLAIM_KEYS if k not in claim]
        for k in ("quote", "paper_figure", "where", "unit"):
            if k in claim and not (isinstance(claim[k], str) and claim[k].strip()):
                problems.append(f"{where}: {k!r} must be a non-empty string")
        test = claim.get("test")
        if not isinstance(test, dict):
            problems.append(f"{where}: 'test' must be an object")
            continue
        kind = test.get("kind")
        if kind not in KINDS:
            problems.append(f"{where}: unknown test kind {kind!r}; known: {', '.join(KINDS)}")
            continue
        problems += [f"{where}: test kind {kind!r} needs key {k!r}" for k in KINDS[kind] if k not in test]
        if kind in RATIO_KINDS and test.get("bound") not in RATIO_BOUNDS:
            problems.append(f"{where}: ratio test needs 'bound', one of {', '.join(RATIO_BOUNDS)}")
        if claim.get("provenance", "paper") not in PROVENANCES:
            problems.append(f"{where}: 'provenance' must be one of {', '.join(PROVENANCES)}")
        elif claim.get("provenance", "paper") != "paper" and not claim.get("provenance_note"):
            problems.append(f"{where}: a claim not from the paper needs a 'provenance_note' naming its source")
        if claim.get("mark") is not None and (claim["mark"] not in MARKS or not claim.get("mark_note")):
            problems.append(f"{where}: 'mark' must be one of {', '.join(MARKS)} with a 'mark_note'")
    return problems


def from_paper(claim: dict[str, Any]) -> bool:
    """True when the claim is the paper's own words (it counts in the report's headline)."""
    return claim.get("provenance", "paper") == "paper"


def load_papers(directory: str | Path | None = None) -> list[dict[str, Any]]:
    """All papers' claim files (package data by default), validated; raises EdgesegError on a bad file."""
    if directory is None:
        base = resources.files("edgeseg.study.claims") / "papers"
        files = sorted((p for p in base.iterdir() if p.name.endswith(".json")), key=lambda p: p.name)
    else:
        files = sorted(Path(directory).glob("*.json"))
    papers, seen = [], set()
    for f in files:
        try:
            data = json.loads(f.read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise EdgesegError(f"{f}: not valid JSON ({e}); fix the claims file") from None
        problems = validate_paper(data, str(f.name))
        for claim in data.get("claims", []) if isinstance(data, dict) else []:
            if isinstance(claim, dict) and claim.get("id") in seen:
                problems.append(f"{f.name}: duplicate claim id {claim['id']!r}")
            seen.add(claim.get("id") if isinstance(claim, dict) else None)
        if problems:
            raise EdgesegError(f"{f}: {problems[0]} ({len(problems)} problem(s)); fix the claims file")
        data["_file"] = f.name
        papers.append(data)
    return papers


def all_claims(papers: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Flat list of claims, each with its paper's model and file attached (`_paper`, `_file`)."""
    out = []
    for paper in papers if papers is not None else load_papers():
        for claim in paper["claims"]:
            out.append({**claim, "_paper": paper["model"], "_file": paper.get("_file", "")})
    return out
