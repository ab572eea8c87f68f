"""The claims campaign, now a plan file: edgeseg/study/plans/claims.toml. This script is its entry point.

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
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edgeseg.study.plan import packaged_plan, shared_root  # noqa: E402

PLAN = packaged_plan("claims")
SHARED = shared_root()
RESULTS = ROOT / "benchmarks" / "results" / "campaign"
RUNS = ROOT.parent / "campaign-runs"
OLD = {"--only": "--sets", "--variants": "--networks", "--threads": "--cpus-per-run", "--runs": "--checkpoints"}


def main(argv: list[str] | None = None) -> int:
    from edgeseg.cli import main as cli

    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in ("plan", "run", "status", "summary"):
        print(__doc__)
        return 2
    rest = [OLD.get(a, a) for a in argv[1:]]
    for flag, default in (("--results", RESULTS), ("--checkpoints", RUNS)):
        if flag not in rest:
            rest += [flag, str(default)]
    return cli(["campaign", argv[0], str(PLAN), *rest])


if __name__ == "__main__":
    sys.exit(main())
