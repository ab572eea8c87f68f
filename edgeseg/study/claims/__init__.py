"""The papers' claims as data, checked against committed results and the training campaign (`edgeseg claims`)."""

from edgeseg.study.campaign_results import Campaign, load_campaign
from edgeseg.study.claims.catalog import KINDS, all_claims, from_paper, load_papers, normalize_quote, validate_paper
from edgeseg.study.claims.checks import check_claims, evidence_kind
from edgeseg.study.claims.document import build_report, claims_summary, render_markdown, short_table
from edgeseg.study.claims.evidence import Evidence, load_evidence, norm_model
from edgeseg.study.claims.verdicts import (
    COMPARABLE_MARGIN,
    FAILS,
    HOLDS,
    INCONCLUSIVE,
    NOT_RUN,
    PART,
    UNTESTABLE,
    VERDICTS,
    ClaimRow,
)

__all__ = [
    "COMPARABLE_MARGIN", "FAILS", "HOLDS", "INCONCLUSIVE", "KINDS", "NOT_RUN", "PART", "UNTESTABLE", "VERDICTS",
    "Campaign", "ClaimRow", "Evidence", "all_claims", "build_report", "check_claims", "claims_summary",
    "evidence_kind", "from_paper", "load_campaign", "load_evidence", "load_papers", "norm_model", "normalize_quote",
    "render_markdown", "short_table", "validate_paper",
]
