"""`campaign plan|status|summary`: the runs and their state, counts per variant, mean Dice per variant."""

from __future__ import annotations

import json
import statistics as st
from pathlib import Path

from edgeseg.names import level_name
from edgeseg.study.plan import Job, Plan


def _holder_alive(lock: Path) -> bool:
    """The lock file names "HOST PID" of the process that holds it (job.run_job); alive on this host?"""
    import os
    import socket

    try:
        host, pid = lock.read_text().split()[:2]
        if host != socket.gethostname():
            return True  # another node's: assume it runs (its results will show when it finishes)
        os.kill(int(pid), 0)
    except (OSError, ValueError):
        return False
    return True


def state(plan: Plan, job: Job) -> str:
    """done / running (the lock's process is alive) / interrupted (a last.pt to resume from) / todo.

    Read-only: the lock is not taken, so a status call never makes a running `campaign run` skip a run."""
    if plan.done(job):
        return "done"
    lock = plan.run_dir(job).parent / f".f{job.fold}-s{job.seed}.lock"
    if lock.is_file() and _holder_alive(lock):
        return "running"
    return "interrupted" if (plan.run_dir(job) / "last.pt").is_file() else "todo"


def plan_lines(plan: Plan, jobs: list[Job]) -> list[str]:
    return [f"{j.dataset} {j.variant} f{j.fold} s{j.seed} {state(plan, j)}" for j in jobs]


def status_lines(plan: Plan, jobs: list[Job]) -> list[str]:
    counts: dict[tuple[str, str], dict[str, int]] = {}
    for j in jobs:
        c = counts.setdefault((j.dataset, j.variant), {})
        s = state(plan, j)
        c[s] = c.get(s, 0) + 1
    total: dict[str, int] = {}
    out = [f"{plan.path} -> {plan.results}"]
    for (ds, v), c in counts.items():
        out.append(f"  {ds:22s} {v:20s} " + ", ".join(f"{k} {n}" for k, n in sorted(c.items())))
        for k, n in c.items():
            total[k] = total.get(k, 0) + n
    pairs = {(j.dataset, j.variant) for j in jobs}
    same = [s for s in plan.same_as if (s.dataset, s.variant) in pairs]
    out.append(f"total {len(jobs)} runs: " + ", ".join(f"{k} {n}" for k, n in sorted(total.items()))
               + (f" ({len(same)} more read from another run: same_as)" if same else ""))
    return out


def summary_lines(plan: Plan) -> list[str]:
    out = []
    for ds in plan.sets:
        out.append(f"== {ds}")
        variants = list(plan.networks) + [level_name(k) for net in plan.networks.values()
                                          for k in net.get("score_levels") or []]
        for v in variants:
            docs = [json.loads(p.read_text()) for p in sorted(Path(plan.results / ds / v).glob("f*-s*.json"))]
            if docs:
                val = [d["val_dice"] for d in docs if d.get("val_dice") is not None]
                out.append(f"  {v:20s} runs {len(docs):2d}  val Dice {st.mean(val) if val else float('nan'):.4f}  "
                           f"test Dice {st.mean(d['test_dice'] for d in docs):.4f}")
    return out
