"""Where the study's scripts read and write, defined once: the checkout's benchmarks/results, the campaign's
results and checkpoints, the shared data sets; and the command line a script records.

The study runs from a checkout (an editable install): paths are resolved against the repository that holds
this package, as the scripts under benchmarks/ always resolved them against their own folder.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from edgeseg.study.plan import shared_root

ROOT = Path(__file__).resolve().parents[2]  # the checkout
RESULTS = ROOT / "benchmarks" / "results"  # committed results
CAMPAIGN = RESULTS / "campaign"  # the claims campaign's results (plans/claims.toml)
CAMPAIGN_RUNS = ROOT.parent / "campaign-runs"  # its checkpoints, outside the repo
SHARED = shared_root()  # the shared data sets ($EDGESEG_SHARED_DATA or ../shared/data)
SHARED_DATA = ROOT.parent / "shared" / "data"  # the scripts' historic --shared default (no env override)


def script_command(script: str, argv: list[str] | None, python: str = "python") -> str:
    """The command a result records: `python benchmarks/SCRIPT.py ARGS` (ARGS = argv, else the process's), the
    same whichever folder the script was started from, so committed results regenerate identically."""
    args = sys.argv[1:] if argv is None else argv
    return shlex.join([python, f"benchmarks/{script}.py", *args])
