"""One campaign run: `edgeseg train` + per-image test scoring, resumable, results written atomically.

A run is (data set, variant, fold, seed). Its result files, written (temporary name, then rename) only once
it finished, are `<results>/<set>/<variant>/f<fold>-s<seed>.csv` (per test image: Dice and IoU of the
trained foreground at the network's input size; `interior` sets add the other class) and `.json`
(edgeseg-campaign-run/1: validation Dice, training time, resumes, machine, versions, code commit, the command,
the `edgeseg train` command that reproduces the checkpoint). A finished run is skipped; an interrupted one
resumes from its last.pt (RNG, sampler and schedule restored, so at most one epoch is lost); a lock per run
(flock, released by the OS when its process dies) keeps two processes from training the same run.
"""

from __future__ import annotations

import csv
import fcntl
import io
import json
import os
import shlex
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

from edgeseg.artifacts import atomic_path, library_versions, write_json_atomic
from edgeseg.bench.machine import machine_line
from edgeseg.names import level_name
from edgeseg.study.plan import Job, Plan
from edgeseg.study.splits import split_file

BUSY = "busy (another campaign process)"
PKG_ROOT = Path(__file__).resolve().parents[2]


def git_state() -> tuple[str, bool]:
    def git(*a: str) -> str:
        try:
            return subprocess.run(["git", *a], cwd=PKG_ROOT, capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    return git("rev-parse", "HEAD") or "unknown", bool(git("status", "--porcelain", "--", "edgeseg"))


def train_command(plan: Plan, job: Job, out: Path, threads: int) -> str:
    net, s = plan.networks[job.variant], plan.recipe(job.dataset, job.variant)
    cmd = ["edgeseg", "train", net["model"], "--data", plan.data_arg(job.dataset), "--out", plan.shown(out), "--size",
           *map(str, s["size"]), "--epochs", str(s["epochs"]), "--batch", str(s["batch"]), "--lr", str(s["lr"]),
           "--seed", str(job.seed), "--foreground", s["foreground"], "--split-file",
           plan.shown(split_file(plan, job.dataset, job.fold)), "--quiet"]
    for k, v in net["options"].items():
        cmd += ["--opt", f"{k}={json.dumps(v) if not isinstance(v, str) else v}"]
    if s["native_crop"]:
        cmd.append("--native-crop")
    if not s["augment"]:
        cmd.append("--no-augment")
    # torch's thread count changes float summation order, so the exact reproduction names it
    return f"OMP_NUM_THREADS={threads} " + shlex.join(cmd)


def _rows(res: dict[str, Any], interior: bool) -> list[dict[str, Any]]:
    from edgeseg.metrics import Counts, scores

    out = []
    for r in res["per_image"]:
        row = {"stem": r["image"], "dice": r["dice"], "iou": r["iou"]}
        if interior:  # the other class of the same binary prediction
            flipped = scores(Counts(r["tp"], r["fp"], r["fn"], r["tn"]).flipped())
            row.update(dice_interior=flipped["dice"], iou_interior=flipped["iou"])
        out.append(row)
    return out


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: (f"{v:.6f}" if isinstance(v, float) else v) for k, v in r.items()})
    with atomic_path(path) as tmp:
        tmp.write_text(buf.getvalue())


def score_test(ckpt: Path, data: Path, test: list[str], level: int | None = None) -> dict[str, Any]:
    """Per-image test scores through edgeseg.evaluate (the code path of `edgeseg eval`)."""
    from edgeseg.checkpoint import load_checkpoint
    from edgeseg.data.dataset import SegFolder
    from edgeseg.data.preprocess import Preprocess
    from edgeseg.errors import EdgesegError
    from edgeseg.evaluate import evaluate_runner
    from edgeseg.models.unetsharp import prune_to_level
    from edgeseg.runtime.torch_runner import TorchRunner

    model, payload = load_checkpoint(ckpt)
    if level is not None:  # a pruned level: its parameters are a subset of L4's
        try:
            model = prune_to_level(model, level)
        except EdgesegError as e:
            raise EdgesegError(f"{ckpt}: {e}") from None
    with TorchRunner(model) as r:
        res = evaluate_runner(r, SegFolder(data).subset(test), Preprocess.from_dict(payload["preprocess"]))
    res["params"] = sum(p.numel() for p in model.parameters())
    return res


def history(out: Path) -> list[float]:
    """Validation Dice after each epoch, so convergence can be read from the results without checkpoints."""
    doc = json.loads((out / "metrics.json").read_text())
    return [round(float(h["val_dice"]), 6) for h in doc.get("history") or []]


def _train(plan: Plan, job: Job, out: Path, split: dict[str, Any], device: str) -> tuple[dict[str, Any], str]:
    from edgeseg.train import train

    status = None
    if (out / "metrics.json").is_file():
        status = json.loads((out / "metrics.json").read_text()).get("status")
    if status == "complete" and (out / "best.pt").is_file():  # trained, but its scoring was cut short
        return json.loads((out / "metrics.json").read_text()), "scored (trained earlier)"
    if status == "training" and (out / "last.pt").is_file():
        return train(out, resume=True, quiet=True), "trained (resumed)"
    net, s = plan.networks[job.variant], plan.recipe(job.dataset, job.variant)
    return train(out, model=net["model"], data=str(plan.data_dir(job.dataset)), size=tuple(s["size"]),
                 epochs=s["epochs"], batch=s["batch"], lr=s["lr"], seed=job.seed, foreground=s["foreground"],
                 model_options=net["options"], split={k: split[k] for k in ("train", "val", "test")}, quiet=True,
                 native_crop=s["native_crop"], augment=s["augment"], device=device), "trained"


def run_job(plan: Plan, job: Job, *, threads: int, command: str, code: tuple[str, bool],
            device: str = "cpu") -> str:
    """Train and score one run unless it is done or another process holds it; returns its state in words."""
    import torch

    if plan.done(job):
        return "done"
    net, spec = plan.networks[job.variant], plan.recipe(job.dataset, job.variant)
    split = json.loads(split_file(plan, job.dataset, job.fold).read_text())
    out = plan.run_dir(job)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out.parent / f".f{job.fold}-s{job.seed}.lock", "a+") as lock:  # "a+": a loser must not truncate
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return BUSY
        if plan.done(job):
            return "done"
        lock.seek(0)
        lock.truncate()
        lock.write(f"{socket.gethostname()} {os.getpid()}\n")
        lock.flush()
        torch.set_num_threads(threads)
        t0 = time.perf_counter()
        res, how = _train(plan, job, out, split, device)
        levels = [(job.variant, None)] + [(level_name(k), k) for k in net.get("score_levels") or []]
        limit = net.get("test_limit")
        stems = split["test"][:limit] if limit else split["test"]
        interior = bool(plan.sets[job.dataset].get("interior"))
        for name, level in levels:
            test = score_test(out / "best.pt", plan.data_dir(job.dataset), stems, level)
            rows = _rows(test, interior)
            c_path, j_path = plan.result_paths(job, name)
            doc = {"schema": "edgeseg-campaign-run/1", "dataset": job.dataset, "variant": name, "model": net["model"],
                   "model_options": {**net["options"], **({"level": level} if level else {})}, "fold": job.fold,
                   "seed": job.seed, "recipe": {k: spec[k] for k in ("size", "epochs", "batch", "lr", "foreground")},
                   "n_train": len(split["train"]), "n_val": len(split["val"]), "n_test": len(rows),
                   "test_subset": f"first {len(stems)} of {len(split['test'])}" if limit else "all",
                   "scored": test.get("inference", "input-size"),
                   "val_dice": res.get("val_dice") if level is None else None, "best_epoch": res.get("best_epoch"),
                   "val_dice_per_epoch": history(out),
                   "test_dice": sum(r["dice"] for r in rows) / len(rows),
                   "test_iou": sum(r["iou"] for r in rows) / len(rows), "params": test["params"],
                   "train_seconds": res.get("train_seconds"), "wall_seconds_this_call": time.perf_counter() - t0,
                   "resumes": res.get("resumes", 0), "pruned_from": "unetsharp" if level else None,
                   "torch_threads": threads, "code_commit": code[0], "code_dirty": code[1], "command": command,
                   "plan": str(plan.path), "worker": f"{socket.gethostname()}:{os.getpid()}",
                   "train_command": train_command(plan, job, out, threads), "machine": machine_line(),
                   "versions": library_versions(), "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
            if interior:
                doc["test_dice_interior"] = sum(r["dice_interior"] for r in rows) / len(rows)
            _write_csv(c_path, rows)  # the CSV first: a run counts once its JSON is there
            write_json_atomic(j_path, doc)
        first = plan.result_paths(job)[1]
        d = json.loads(first.read_text())
        return f"{how}: val {res.get('val_dice') or 0:.4f}, test {d['test_dice']:.4f}"
