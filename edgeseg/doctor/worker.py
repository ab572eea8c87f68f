"""One doctor stage in its own process: `python -m edgeseg.doctor.worker STAGE BUNDLE OUT.json WORK LIMIT_S`.

The parent kills it at its limit; what it recorded until then is already in OUT.json (StageContext.record)."""

from __future__ import annotations

import importlib
import sys
import time
from pathlib import Path

from edgeseg.doctor.common import StageContext, StageSkipped, one_line

ENTRY = {"env": ("edgeseg.doctor.env", "run"), "torch": ("edgeseg.doctor.torch_cuda", "run"),
         "tensorrt": ("edgeseg.doctor.engines", "run_tensorrt"), "rtx": ("edgeseg.doctor.engines", "run_rtx"),
         "ratios": ("edgeseg.doctor.ratios", "run")}
MARGIN_S = 3.0  # a check does not start when less than this (plus its own need) is left


def main(argv: list[str]) -> int:
    stage, bundle, out, work, limit = argv
    ctx = StageContext(stage, Path(bundle), Path(out), Path(work), time.monotonic() + float(limit) - MARGIN_S)
    ctx.work.mkdir(parents=True, exist_ok=True)
    ctx.flush()
    module, fn = ENTRY[stage]
    try:
        getattr(importlib.import_module(module), fn)(ctx)
    except StageSkipped as e:
        ctx.info["skipped"] = str(e)[:300]
    except Exception as e:  # noqa: BLE001 - recorded; the parent goes on with the next stage
        ctx.info["error"] = one_line(e)
    ctx.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
