"""The claims campaign, now a plan file: edgeseg/study/plans/claims.toml. benchmarks/campaign.py is its entry point.

    python benchmarks/campaign.py plan|run|status|summary [--only SET ...] [--variants V ...] [--threads 1]
                                  [--runs DIR] [--results DIR] [edgeseg campaign options]
  = edgeseg campaign ACTION edgeseg/study/plans/claims.toml [--sets ...] [--networks ...] [--cpus-per-run N]
                                  [--checkpoints DIR] [--results DIR]

The runs, recipes, splits, result schema and paths are those this script always had (the plan file's
plan.json, splits and runs equal the committed ones: tests/test_study_plan.py). Runs are Ray tasks where
Ray is installed (a local instance sized to this machine), else one by one in-process.
"""

from __future__ import annotations

import sys

from edgeseg.study.paths import CAMPAIGN, CAMPAIGN_RUNS
from edgeseg.study.plan import packaged_plan

PLAN = packaged_plan("claims")
OLD = {"--only": "--sets", "--variants": "--networks", "--threads": "--cpus-per-run", "--runs": "--checkpoints"}


def main(argv: list[str] | None = None) -> int:
    from edgeseg.cli import main as cli

    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in ("plan", "run", "status", "summary"):
        print(__doc__)
        return 2
    rest = [OLD.get(a, a) for a in argv[1:]]
    for flag, default in (("--results", CAMPAIGN), ("--checkpoints", CAMPAIGN_RUNS)):
        if flag not in rest:
            rest += [flag, str(default)]
    return cli(["campaign", argv[0], str(PLAN), *rest])
