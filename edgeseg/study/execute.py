"""A plan's runs as Ray tasks; one by one in this process where Ray is not installed (same results).

* No address: a local Ray instance sized to this machine (every core, no dashboard); `auto` or
  `ray://HOST:PORT`: an existing cluster. Each run asks for --cpus-per-run CPUs and --gpus-per-run GPUs as
  its resources, and trains with that many torch threads (on CUDA when it has a GPU).
* A run is retried by Ray when its worker or node dies (`max_retries`); the retry resumes from last.pt.
* Runs another process holds (its lock) come back "busy" and are tried once more after the others: two
  `campaign run` processes on one plan split the runs and never train one twice.
"""

from __future__ import annotations

import os
import shlex
import sys
import time
from collections.abc import Callable
from typing import Any

from edgeseg.errors import EdgesegError
from edgeseg.study.job import BUSY, git_state, run_job
from edgeseg.study.plan import Job, Plan
from edgeseg.study.splits import write_plan_files

MAX_RETRIES = 3  # a killed worker's run is retried (and resumes) up to this many times


def _one(plan: Plan, job: Job, threads: int, command: str, code: tuple[str, bool], device: str) -> tuple[Job, str]:
    return job, run_job(plan, job, threads=threads, command=command, code=code, device=device)


def _have_ray() -> bool:
    try:
        import ray  # noqa: F401
    except ImportError:
        return False
    return True


def _init_ray(address: str | None) -> None:
    import ray

    if ray.is_initialized():
        return
    if address is None:  # the embedded default: a NEW local instance sized to this machine ("local" never
        # joins another instance that happens to run on this host)
        ray.init(address="local", num_cpus=os.cpu_count() or 1, include_dashboard=False, log_to_driver=True,
                 configure_logging=False)
    else:
        try:
            ray.init(address=address, include_dashboard=False)
        except (ConnectionError, RuntimeError, ValueError) as e:
            raise EdgesegError(f"--address {address}: no Ray cluster there ({str(e).splitlines()[0]}); start one "
                               f"(ray start --head) or pass ray://HOST:PORT") from None


def _with_ray(plan: Plan, jobs: list[Job], cpus: int, gpus: float, command: str, code: tuple[str, bool],
              address: str | None, log: Callable[[str], None]) -> dict[Job, str]:
    import ray

    _init_ray(address)
    task = ray.remote(num_cpus=cpus, num_gpus=gpus, max_retries=MAX_RETRIES)(_one)
    device = "cuda" if gpus > 0 else "cpu"
    states: dict[Job, str] = {}
    pending = list(jobs)
    for rnd in (1, 2):  # round 2: the runs another process held during round 1
        refs = [task.remote(plan, j, cpus, command, code, device) for j in pending]
        while refs:
            ready, refs = ray.wait(refs, num_returns=1)
            job, state = ray.get(ready[0])
            states[job] = state
            if state != "done":
                log(f"[{rnd}: {len(states)}/{len(jobs)}] {job.label()}: {state}")
        pending = [j for j in pending if states[j] == BUSY]
        if not pending:
            break
    return states


def _in_process(plan: Plan, jobs: list[Job], cpus: int, gpus: float, command: str, code: tuple[str, bool],
                log: Callable[[str], None]) -> dict[Job, str]:
    import torch

    states: dict[Job, str] = {}
    before = torch.get_num_threads()
    try:
        pending = list(jobs)
        for rnd in (1, 2):
            for i, job in enumerate(pending):
                t0 = time.perf_counter()
                states[job] = run_job(plan, job, threads=cpus, command=command, code=code,
                                      device="cuda" if gpus > 0 else "cpu")
                if states[job] != "done":
                    log(f"[{rnd}: {i + 1}/{len(pending)}] {job.label()}: {states[job]} "
                        f"({time.perf_counter() - t0:.0f} s)")
            pending = [j for j in pending if states[j] == BUSY]
            if not pending:
                break
    finally:
        torch.set_num_threads(before)
    return states


def run_plan(plan: Plan, jobs: list[Job], *, address: str | None = None, cpus_per_run: int = 1,
             gpus_per_run: float = 0, use_ray: bool | None = None, argv: list[str] | None = None,
             log: Callable[[str], None] | None = None) -> dict[Job, str]:
    """Write the plan's splits and plan.json, then run `jobs` (Ray tasks, or in-process); -> state per run."""
    log = log or (lambda m: print(m, flush=True))
    if cpus_per_run < 1 or gpus_per_run < 0:
        raise EdgesegError(f"--cpus-per-run must be >= 1 and --gpus-per-run >= 0 (got {cpus_per_run}, "
                           f"{gpus_per_run})")
    write_plan_files(plan)
    command = shlex.join(argv if argv is not None else ["edgeseg", *sys.argv[1:]])
    code = git_state()
    todo = [j for j in jobs if not plan.done(j)]
    log(f"{plan.path}: {len(jobs) - len(todo)} of {len(jobs)} runs done, {len(todo)} to run")
    if not todo:
        return {j: "done" for j in jobs}
    ray_ok = _have_ray() if use_ray is None else use_ray
    if use_ray and not _have_ray():
        raise EdgesegError("Ray is not installed; pip install 'edgeseg[cluster]' (or drop --address)")
    if not ray_ok:
        if address:
            raise EdgesegError(f"--address {address}: Ray is not installed; pip install 'edgeseg[cluster]'")
        why = "--no-ray" if use_ray is False else "Ray is not installed; pip install 'edgeseg[cluster]' for Ray"
        log(f"running the {len(todo)} runs one by one in this process ({why}); the results are the same")
        states = _in_process(plan, todo, cpus_per_run, gpus_per_run, command, code, log)
    else:
        states = _with_ray(plan, todo, cpus_per_run, gpus_per_run, command, code, address, log)
    return {j: states.get(j, "done") for j in jobs}


def summary_line(states: dict[Any, str]) -> str:
    trained = sum(s.startswith(("trained", "scored")) for s in states.values())
    busy = sum(s == BUSY for s in states.values())
    return f"{trained} trained or scored, {busy} left to another process, {len(states) - trained - busy} already done"
