"""`edgeseg doctor --gpu`: every GPU path of edgeseg checked in one command, stage by stage, within a budget.

    run_doctor(out="doctor-out", bundle=".doctor-bundle", budget_s=420)  -> exit code

Stages (edgeseg.doctor.common.STAGES) run one after another, each in its own process (edgeseg.doctor.worker)
killed at its time limit; the limits are scaled down to fit the budget. A stage that fails or times out is
recorded with a one-line reason and the next one runs. OUT/doctor.json and OUT/doctor.md are rewritten after
every stage, so they exist whatever happens. Exit codes: 0 every stage passed or was skipped with a reason,
1 some stage failed, 2 no NVIDIA GPU (every stage then "skipped", with the reason) or bad input.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from edgeseg.artifacts import write_bytes_atomic, write_json_atomic
from edgeseg.doctor.common import STAGES
from edgeseg.doctor.report import markdown, stage_limits
from edgeseg.errors import EdgesegError

SCHEMA = "edgeseg-doctor/1"
DEFAULT_BUDGET_S = 420.0
MIN_STAGE_S = 5


def no_gpu_reason() -> str | None:
    """None when a CUDA-visible NVIDIA GPU is here; else what was looked at."""
    from edgeseg.runtime.gpu import list_gpus, nvidia_device_nodes

    gpus = list_gpus()
    if any(g.cuda_visible and g.cc for g in gpus):
        return None
    if gpus:
        return (f"{gpus[0].name} is listed by {gpus[0].source} but no CUDA binding (cuda-python, pycuda, a CUDA "
                f"build of torch) can use it; install cuda-python: pip install \"edgeseg[cuda]\"")
    seen = "a /dev/nvidia0 device node exists, but" if nvidia_device_nodes() else "no /dev/nvidia0 device node;"
    return (f"{seen} cuda-python, pycuda, torch.cuda and NVML found no GPU; run this on a machine with an "
            f"NVIDIA GPU and driver")


def _write(out: Path, doc: dict[str, Any]) -> None:
    write_json_atomic(out / "doctor.json", doc)
    write_bytes_atomic(out / "doctor.md", markdown(doc).encode())


def _new_doc(budget_s: float, bundle: Path) -> dict[str, Any]:
    return {"schema": SCHEMA, "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "command": " ".join(["edgeseg", *sys.argv[1:]]) if sys.argv and "edgeseg" in sys.argv[0] else
            "edgeseg doctor --gpu", "budget_s": budget_s, "bundle": str(bundle), "gpu": None, "seconds": None,
            "exit_code": None, "stages": [{"name": n, "title": t, "limit_s": lim, "status": "pending", "items": []}
                                          for n, t, lim in stage_limits(budget_s)]}


def _stage_status(st: dict[str, Any], part: dict[str, Any]) -> None:
    info = part.get("info") or {}
    st["items"], st["info"] = part.get("items", []), info
    failed = [it for it in st["items"] if it.get("status") == "fail"]
    if info.get("error"):
        st.update(status="fail", reason=info["error"])
    elif failed:
        it = failed[0]
        what = " ".join(str(it[k]) for k in ("model", "backend", "precision", "check") if k in it)
        more = f" (+{len(failed) - 1} more)" if len(failed) > 1 else ""
        st.update(status="fail", reason=f"{what}: {it.get('reason')}{more}")
    elif info.get("skipped"):
        st.update(status="skipped", reason=info["skipped"])
    elif st["items"] and all(it.get("status") == "skipped" for it in st["items"]):
        st.update(status="skipped", reason=st["items"][0].get("reason"))
    else:
        st["status"] = "pass"


def _run_stage(st: dict[str, Any], bundle: Path, out: Path, work: Path, limit: float) -> None:
    part_path = out / "stages" / f"{st['name']}.json"
    part_path.parent.mkdir(parents=True, exist_ok=True)
    part_path.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "edgeseg.doctor.worker", st["name"], str(bundle), str(part_path), str(work),
           str(limit)]
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        log, _ = proc.communicate(timeout=limit)
        timed_out = False
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the worker and anything it started (a hung CUDA call included)
        log, _ = proc.communicate()
        timed_out = True
    st["seconds"] = round(time.monotonic() - t0, 1)
    (out / "stages" / f"{st['name']}.log").write_bytes(log or b"")
    try:
        part = json.loads(part_path.read_text())
    except (OSError, json.JSONDecodeError):
        tail = (log or b"").decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
        part = {"items": [], "info": {"error": f"worker exited {proc.returncode} before writing results: "
                                               f"{tail[0][:200]}"}}
    _stage_status(st, part)
    if timed_out:
        st.update(status="fail", reason=f"exceeded its {limit:.0f} s limit (killed); "
                                        f"{len(st['items'])} check(s) recorded before that")


def run_doctor(out: str | Path = "doctor-out", bundle: str | Path = ".doctor-bundle",
               budget_s: float = DEFAULT_BUDGET_S, work: str | Path | None = None, power: str = "auto") -> int:
    """Run the stages (see module docstring); -> exit code. Prints one line per stage, or the no-GPU line.

    `power`: the energy meter of the engine stages (edgeseg.power: auto = tegrastats on a Jetson, else NVML)."""
    from edgeseg.doctor.bundle import load_bundle
    from edgeseg.doctor.engines import POWER_ENV
    from edgeseg.power import POWER_CHOICES

    if power not in POWER_CHOICES:
        raise EdgesegError(f"--power {power!r}: one of {', '.join(POWER_CHOICES)}")
    os.environ[POWER_ENV] = power  # the stage processes inherit it

    if budget_s < MIN_STAGE_S * 2:
        raise EdgesegError(f"--budget-s {budget_s}: too small to run anything; the default is {DEFAULT_BUDGET_S:.0f}")
    t_start = time.monotonic()
    out, bundle = Path(out), Path(bundle)
    out.mkdir(parents=True, exist_ok=True)
    doc = _new_doc(budget_s, bundle)
    doc["power"] = power
    reason = no_gpu_reason()
    if reason is not None:
        for st in doc["stages"]:
            st.update(status="skipped", reason=f"no NVIDIA GPU: {reason}")
        doc.update(exit_code=2, seconds=round(time.monotonic() - t_start, 1))
        _write(out, doc)
        print(f"edgeseg: error: no NVIDIA GPU: {reason} (report: {out / 'doctor.json'})", file=sys.stderr)
        return 2
    from edgeseg.runtime.gpu import first_gpu

    gpu = first_gpu()
    doc["gpu"] = gpu.label() if gpu else None
    load_bundle(bundle)  # a missing bundle is bad input: one line, before any stage
    work_dir = Path(work) if work else Path(tempfile.mkdtemp(prefix="edgeseg-doctor-"))
    try:
        for st in doc["stages"]:
            left = budget_s - (time.monotonic() - t_start) - 2  # keep 2 s to write the reports
            limit = min(st["limit_s"], left)
            if limit < MIN_STAGE_S:
                st.update(status="skipped", reason=f"--budget-s {budget_s:.0f} spent before this stage")
            else:
                _run_stage(st, bundle.resolve(), out.resolve(), work_dir, limit)
            print(f"doctor: {st['name']:<9} {st['status']:<8} {st.get('seconds', 0):>6} s  {st.get('reason') or ''}",
                  file=sys.stderr)
            _write(out, doc)
    finally:
        if work is None:
            shutil.rmtree(work_dir, ignore_errors=True)
    failed = any(st["status"] == "fail" for st in doc["stages"])
    doc.update(exit_code=1 if failed else 0, seconds=round(time.monotonic() - t_start, 1))
    _write(out, doc)
    return doc["exit_code"]


__all__ = ["run_doctor", "no_gpu_reason", "STAGES", "SCHEMA"]
