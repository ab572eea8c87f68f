"""`python -m edgeseg.bench.worker`: run one bench config (JSON on stdin) in a fresh process.

Prints one line `EDGESEG_BENCH_RESULT {"result": {...}}` or `... {"error": "one line"}` on stdout.
"""

from __future__ import annotations

import json
import sys

from edgeseg.bench.harness import RESULT_MARK, run_config
from edgeseg.errors import EdgesegError, MissingDependencyError


def main() -> int:
    cfg = json.loads(sys.stdin.read())
    try:
        msg = {"result": run_config(cfg)}
    except EdgesegError as e:
        msg = {"error": str(e), "missing_dependency": isinstance(e, MissingDependencyError)}
    print(RESULT_MARK + json.dumps(msg), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
