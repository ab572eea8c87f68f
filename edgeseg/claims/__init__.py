"""The papers' efficiency and accuracy claims as data, checked against committed results (`edgeseg claims`)."""

from edgeseg.claims.catalog import KINDS, all_claims, load_papers, normalize_quote, validate_paper
from edgeseg.claims.checks import FAILS, HOLDS, PART, UNTESTABLE, VERDICTS, ClaimRow, check_claims
from edgeseg.claims.evidence import Evidence, load_evidence, norm_model
from edgeseg.claims.report import build_report, claims_summary, render_markdown, short_table

__all__ = [
    "FAILS", "HOLDS", "KINDS", "PART", "UNTESTABLE", "VERDICTS", "ClaimRow", "Evidence", "all_claims",
    "build_report", "check_claims", "claims_summary", "load_evidence", "load_papers", "norm_model",
    "normalize_quote", "render_markdown", "short_table", "validate_paper",
]
