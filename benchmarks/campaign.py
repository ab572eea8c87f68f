"""The claims campaign: several seeds per network on fixed splits, per-image test results, resumable.

    python benchmarks/campaign.py plan                    # write splits + plan.json, list the jobs and their state
    python benchmarks/campaign.py run [--only DATASET ...] [--variants V ...] [--threads 2]
    python benchmarks/campaign.py summary                 # mean val/test Dice per variant (the WS-default evidence)

One split per data set, fixed by SPLIT_SEED and independent of the training seed, so every seed is scored on
the same test images: a hold-out split for DSB (70 train / 30 val / 464 test of the 564) and Kvasir (70 / 30 /
800 of the 900), 3-fold cross-validation for ISBI 2012 (30 images: each fold tests 10, validates on 3, trains
on 17), so every ISBI image is tested once per seed. Training counts and recipes stay those of
`benchmarks/train_real.py` (96x96, 15 epochs, batch 4, lr 2e-3; ISBI 128x128, 30 epochs), so a run costs what
it cost before; the extra images only go to the test split.

A run is (data set, variant, fold, seed). Its result files, written atomically only once it finished, are
`benchmarks/results/campaign/<set>/<variant>/f<fold>-s<seed>.csv` (per test image: Dice and IoU of the trained
foreground at the network's input size; ISBI adds the interior class) and `.json` (validation Dice, training
time, resumes, the code commit, the `edgeseg train` command that reproduces the checkpoint). A finished run is
skipped; an interrupted one resumes from its last.pt (RNG, sampler and schedule restored); several `run`
processes may share the job list (a lock per run). Checkpoints go to --runs (git-ignored, outside the repo by
default so that they outlive a fresh checkout of the work tree).
"""

from __future__ import annotations

import argparse
import csv
import fcntl
import io
import json
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edgeseg.artifacts import atomic_path, library_versions, write_json_atomic  # noqa: E402
from edgeseg.models.sdunet import DEFAULT_WS  # noqa: E402

SPLIT_SEED = 0
SHARED = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "benchmarks" / "results" / "campaign"
RUNS = ROOT.parent / "campaign-runs"
SETS: dict[str, dict[str, Any]] = {
    "dsb2018-nuclei-564": {"kind": "holdout", "n_train": 70, "n_val": 30, "size": [96, 96], "epochs": 15,
                           "batch": 4, "lr": 2e-3, "foreground": "auto", "what": "nucleus (mask value 255)"},
    "kvasir-seg-900": {"kind": "holdout", "n_train": 70, "n_val": 30, "size": [96, 96], "epochs": 15,
                       "batch": 4, "lr": 2e-3, "foreground": "auto", "what": "polyp (mask value 255)"},
    "isbi2012-em": {"kind": "kfold", "folds": 3, "n_val": 3, "size": [128, 128], "epochs": 30, "batch": 4,
                    "lr": 2e-3, "foreground": "invert",
                    "what": "membrane (mask value 0) as foreground; interior Dice of the same prediction beside it"},
}
SEEDS3, SEED1 = (0, 1, 2), (0,)
# variant -> (registry model, options, seeds, data sets)
ALL = tuple(SETS)
VARIANTS: dict[str, tuple[str, dict[str, Any], tuple[int, ...], tuple[str, ...]]] = {
    "sdunet-ws-layer": ("sdunet", {"ws": "layer"}, SEEDS3, ALL),
    "sdunet-ws-channel": ("sdunet", {"ws": "channel"}, SEEDS3, ALL),
    "tinyunet": ("tinyunet", {}, SEEDS3, ALL),
    "ulite": ("ulite", {}, SEEDS3, ALL),
    "unet": ("unet", {}, SEEDS3, ALL),
    "sdunet-ws-none": ("sdunet", {"ws": "none"}, SEEDS3, ("dsb2018-nuclei-564", "isbi2012-em")),
    "gpunet": ("gpunet", {}, SEEDS3, ("dsb2018-nuclei-564", "kvasir-seg-900")),
    "ghostunet": ("ghostunet", {}, SEEDS3, ("dsb2018-nuclei-564", "kvasir-seg-900")),
    "unetsharp": ("unetsharp", {"deep_supervision": True}, SEEDS3, ("dsb2018-nuclei-564", "kvasir-seg-900")),
    "sdunet-bn": ("sdunet", {"ws": DEFAULT_WS, "norm": "bn"}, SEEDS3, ("dsb2018-nuclei-564",)),
}
# Native-scale variants (issue 14): trained on random input-size crops of the un-resized images
# (`edgeseg train --native-crop`), scored by sliding windows at native size; the resized variants above are
# scored at the input size. benchmarks/native_table.py compares both regimes at native size.
NATIVE_SETS = ("dsb2018-nuclei-564", "kvasir-seg-900")
for _v, _m, _o in (("unet-native", "unet", {}), ("sdunet-native", "sdunet", {"ws": DEFAULT_WS}),
                   ("tinyunet-native", "tinyunet", {}), ("ulite-native", "ulite", {})):
    VARIANTS[_v] = (_m, _o, SEED1, NATIVE_SETS)
NATIVE = tuple(v for v in VARIANTS if v.endswith("-native"))
# Recipe overrides. tinyunet-e30: TinyU-Net's DSB validation Dice is still rising at epoch 15 (it predicts
# nothing for its first epochs), so the same recipe at twice the epochs tells under-training from capacity.
VARIANTS["tinyunet-e30"] = ("tinyunet", {}, SEED1, ("dsb2018-nuclei-564",))
OVERRIDES: dict[str, dict[str, Any]] = {"tinyunet-e30": {"epochs": 30}}
# Issue 20. SD-UNet at the paper's learning rate (Adam 1e-4): is the collapse of some seeds at 2e-3 ours?
VARIANTS["sdunet-lr1e-4"] = ("sdunet", {"ws": DEFAULT_WS}, SEEDS3, ("dsb2018-nuclei-564", "kvasir-seg-900"))
OVERRIDES["sdunet-lr1e-4"] = {"lr": 1e-4}
# ... or is it our reading of the output end (zhixuhao's 2-channel ReLU pre-head)? The paper's wording instead.
VARIANTS["sdunet-head-paper"] = ("sdunet", {"ws": DEFAULT_WS, "head": "paper"}, SEEDS3,
                                 ("dsb2018-nuclei-564", "kvasir-seg-900"))
# Budget sensitivity: the compared networks at twice each set's epochs (DSB 30, ISBI 60), three seeds. A
# verdict that changes between the two budgets is the budget's, not the network's.
for _v in ("unet", "sdunet-ws-layer", "tinyunet", "ulite"):
    VARIANTS[f"{_v}-2x"] = (*VARIANTS[_v][:2], SEEDS3, ("dsb2018-nuclei-564", "isbi2012-em"))
    OVERRIDES[f"{_v}-2x"] = {"epochs_factor": 2}


# A run that another variant's result already is (same recipe, seed and split): not trained twice; the claims
# read tinyunet-e30's seed 0 as tinyunet-2x's.
SAME_AS = {("dsb2018-nuclei-564", "tinyunet-2x", 0, 0): ("dsb2018-nuclei-564", "tinyunet-e30", 0, 0)}


def recipe(ds: str, variant: str) -> dict[str, Any]:
    spec = {**SETS[ds], **OVERRIDES.get(variant, {})}
    factor = spec.pop("epochs_factor", 1)
    return {**spec, "epochs": spec["epochs"] * factor}


CORE = ("sdunet-ws-layer", "sdunet-ws-channel", "tinyunet", "ulite", "unet", "sdunet-ws-none")
# Tiled scoring at native size costs seconds per image (U-Net ~3 s on a DSB image, more on Kvasir's), so a
# native variant is scored on the first NATIVE_TEST stems of the fixed test split; native_table.py compares
# both regimes on such a prefix.
NATIVE_TEST = 100
PRUNED_LEVELS = (1, 2, 3)  # UNet#'s L1-L3, cut from the trained L4 at inference (the paper's fast mode)


# ------------------------------------------------------------------------------------------------ splits

def make_splits(name: str) -> dict[str, Any]:
    import numpy as np

    from edgeseg.data.dataset import SegFolder

    spec = SETS[name]
    stems = sorted(SegFolder(SHARED / name).stems)
    order = [stems[i] for i in np.random.default_rng(SPLIT_SEED).permutation(len(stems))]
    folds = []
    if spec["kind"] == "holdout":
        a, b = spec["n_train"], spec["n_train"] + spec["n_val"]
        folds.append({"fold": 0, "train": sorted(order[:a]), "val": sorted(order[a:b]), "test": sorted(order[b:])})
    else:
        k, n = spec["folds"], len(order)
        for f in range(k):
            test = order[f * n // k:(f + 1) * n // k]
            rest = [s for s in order if s not in test]
            folds.append({"fold": f, "train": sorted(rest[spec["n_val"]:]), "val": sorted(rest[:spec["n_val"]]),
                          "test": sorted(test)})
    return {"schema": "edgeseg-campaign-split/1", "dataset": name, "kind": spec["kind"], "split_seed": SPLIT_SEED,
            "n_images": len(stems), "folds": folds}


def split_file(name: str, fold: int) -> Path:
    return RESULTS / "splits" / f"{name}-f{fold}.json"


def write_splits(name: str) -> dict[str, Any]:
    doc = make_splits(name)
    path = RESULTS / "splits" / f"{name}.json"
    if path.is_file() and json.loads(path.read_text()) != doc:
        raise SystemExit(f"{path}: differs from the split this code makes; the campaign's test images must not "
                         f"change between sessions (delete the campaign results to start over)")
    write_json_atomic(path, doc)
    for f in doc["folds"]:  # the form `edgeseg train --split-file` reads
        write_json_atomic(split_file(name, f["fold"]), {"dataset": name, "fold": f["fold"],
                                                        **{k: f[k] for k in ("train", "val", "test")}})
    return doc


# ------------------------------------------------------------------------------------------------ jobs

def jobs(only: list[str] | None = None, variants: list[str] | None = None) -> list[tuple[str, str, int, int]]:
    """(set, variant, fold, seed) in priority order: seed 0 of the core networks (DSB first: the WS ablation
    and SD-UNet's fidelity question), the cheap native-scale variants (issue 14's table), seed 1 of the four
    compared networks and of SD-UNet without WS (two seeds measure seed variance), the single-seed networks on
    DSB (the GPU-Net and UNet# papers' own set), ISBI's folds at seed 0 for the compared networks, TinyU-Net at
    30 epochs on DSB (it decides whether the budget explains the SD-UNet/TinyU-Net gap), Kvasir's native U-Net
    (the last row of issue 14's table), seed 2, the WS modes on ISBI, ISBI's seeds 1-2 of the four compared
    networks (three seeds on every set), the single-seed networks on Kvasir, seeds 1-2 of per-channel WS (its
    failure is far outside any seed spread), ISBI's seeds 1-2 of the WS ablation and the GN-vs-BN ablation:
    every accuracy claim gets an interval before the seeds are completed."""
    dsb, kvasir, isbi = SETS
    cheap_native = ("sdunet-native", "ulite-native", "tinyunet-native")
    seeded = tuple(v for v in CORE if v != "sdunet-ws-channel")
    single = ("gpunet", "ghostunet", "unetsharp")
    compared = ("unet", "sdunet-ws-layer", "tinyunet", "ulite")
    budget = ("ulite-2x", "tinyunet-2x", "sdunet-ws-layer-2x", "unet-2x")  # cheapest first
    issue20 = [(("sdunet-lr1e-4", "sdunet-head-paper"), (dsb, kvasir), SEEDS3), (("gpunet", "ghostunet"), (dsb, kvasir), (1, 2)),
               (("sdunet-ws-none",), (isbi,), (1, 2)), (budget, (dsb,), SEEDS3), (budget, (isbi,), SEEDS3),
               (("unetsharp",), (dsb, kvasir), SEEDS3)]
    stages = [*issue20, (CORE, (dsb, kvasir), (0,)), (NATIVE, (dsb,), (0,)), (cheap_native, (kvasir,), (0,)),
              (seeded, (dsb, kvasir), (1,)), (single, (dsb,), (0,)),
              (compared, (isbi,), (0,)), (("tinyunet-e30",), (dsb,), (0,)),
              (("unet-native",), (kvasir,), (0,)), (seeded, (dsb, kvasir), (2,)), (CORE, (isbi,), (0,)),
              (compared, (isbi,), (1, 2)), (single, (kvasir,), (0,)), (("sdunet-ws-channel",), (dsb, kvasir), (1, 2)),
              (CORE, (isbi,), (1, 2)), (("sdunet-bn",), (dsb,), SEEDS3)]
    out = []
    for block, sets_, seeds_ in stages:
        for seed in seeds_:
            for ds in sets_:
                for fold in range(SETS[ds].get("folds", 1)):
                    for v in block:
                        _, _, seeds, sets = VARIANTS[v]
                        job = (ds, v, fold, seed)
                        if seed in seeds and ds in sets and (not only or ds in only) \
                                and (not variants or v in variants) and job not in out and job not in SAME_AS:
                            out.append(job)
    return out


def result_paths(ds: str, variant: str, fold: int, seed: int) -> tuple[Path, Path]:
    base = RESULTS / ds / variant / f"f{fold}-s{seed}"
    return base.with_suffix(".csv"), base.with_suffix(".json")


def git_state() -> tuple[str, bool]:
    def git(*a: str) -> str:
        return subprocess.run(["git", *a], cwd=ROOT, capture_output=True, text=True).stdout.strip()

    dirty = bool(git("status", "--porcelain", "--", "edgeseg", "benchmarks/campaign.py"))
    return git("rev-parse", "HEAD") or "unknown", dirty


def machine() -> str:
    import os

    import torch

    cpu = platform.machine()
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__}"


def _threads() -> int:
    import torch

    return torch.get_num_threads()


def train_command(ds: str, variant: str, fold: int, seed: int, out: Path) -> str:
    model, opts, _, _ = VARIANTS[variant]
    s = recipe(ds, variant)
    cmd = ["edgeseg", "train", model, "--data", f"../shared/data/{ds}", "--out", str(out), "--size",
           *map(str, s["size"]), "--epochs", str(s["epochs"]), "--batch", str(s["batch"]), "--lr", str(s["lr"]),
           "--seed", str(seed), "--foreground", s["foreground"], "--split-file",
           f"benchmarks/results/campaign/splits/{ds}-f{fold}.json", "--quiet"]
    for k, v in opts.items():
        cmd += ["--opt", f"{k}={json.dumps(v) if not isinstance(v, str) else v}"]
    if variant in NATIVE:
        cmd.append("--native-crop")
    # torch's thread count changes float summation order, so the exact reproduction names it
    return f"OMP_NUM_THREADS={_threads()} " + shlex.join(cmd)


def _rows(res: dict[str, Any], isbi: bool) -> list[dict[str, Any]]:
    from edgeseg.metrics import Counts, scores

    out = []
    for r in res["per_image"]:
        row = {"stem": r["image"], "dice": r["dice"], "iou": r["iou"]}
        if isbi:  # the other class of the same binary prediction
            flipped = Counts(r["tp"], r["fp"], r["fn"], r["tn"]).flipped()
            row.update(dice_interior=scores(flipped)["dice"], iou_interior=scores(flipped)["iou"])
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


def score_test(ckpt: Path, ds: str, test: list[str], level: int | None = None) -> dict[str, Any]:
    """Per-image test scores through edgeseg.evaluate (the code path of `edgeseg eval`)."""
    from edgeseg.checkpoint import load_checkpoint
    from edgeseg.data.dataset import SegFolder
    from edgeseg.data.preprocess import Preprocess
    from edgeseg.evaluate import evaluate_runner
    from edgeseg.models import rebuild_model
    from edgeseg.runtime.torch_runner import TorchRunner

    model, payload = load_checkpoint(ckpt)
    if level is not None:  # a pruned level: its parameters are a subset of L4's
        cfg = payload["model"]
        model = rebuild_model({**cfg, "options": {**cfg.get("options", {}), "level": level,
                                                  "deep_supervision": False}})
        missing, _ = model.load_state_dict(payload["state_dict"], strict=False)
        if missing:
            raise SystemExit(f"{ckpt}: level {level} weights missing from the L4 checkpoint: {missing[:3]}")
        model.eval()
    samples = SegFolder(SHARED / ds).subset(test)
    with TorchRunner(model) as r:
        res = evaluate_runner(r, samples, Preprocess.from_dict(payload["preprocess"]))
    res["params"] = sum(p.numel() for p in model.parameters())
    return res


def run_job(ds: str, variant: str, fold: int, seed: int, runs: Path, splits: dict[str, Any], argv: list[str],
            code: tuple[str, bool]) -> str:
    from edgeseg.train import train

    csv_path, json_path = result_paths(ds, variant, fold, seed)
    if json_path.is_file():
        return "done"
    model, opts, _, _ = VARIANTS[variant]
    spec, split = recipe(ds, variant), splits[ds]["folds"][fold]
    out = runs / ds / variant / f"f{fold}-s{seed}"
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out.parent / f".f{fold}-s{seed}.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return "busy (another campaign process)"
        if json_path.is_file():
            return "done"
        status = None
        if (out / "metrics.json").is_file():
            status = json.loads((out / "metrics.json").read_text()).get("status")
        resume = status == "training" and (out / "last.pt").is_file()
        t0 = time.perf_counter()
        if status == "complete" and (out / "best.pt").is_file():  # trained, but its scoring was cut short
            res = json.loads((out / "metrics.json").read_text())
        elif resume:
            res = train(out, resume=True, quiet=True)
        else:
            res = train(out, model=model, data=str(SHARED / ds), size=tuple(spec["size"]), epochs=spec["epochs"],
                        batch=spec["batch"], lr=spec["lr"], seed=seed, foreground=spec["foreground"],
                        model_options=opts, split={k: split[k] for k in ("train", "val", "test")}, quiet=True,
                        native_crop=variant in NATIVE)
        isbi = ds == "isbi2012-em"
        levels = [(variant, None)] + ([(f"unetsharp-l{k}", k) for k in PRUNED_LEVELS] if model == "unetsharp"
                                      else [])
        stems = split["test"][:NATIVE_TEST] if variant in NATIVE else split["test"]
        for name, level in levels:
            test = score_test(out / "best.pt", ds, stems, level)
            rows = _rows(test, isbi)
            c_path, j_path = result_paths(ds, name, fold, seed)
            _write_csv(c_path, rows)
            doc = {"schema": "edgeseg-campaign-run/1", "dataset": ds, "variant": name, "model": model,
                   "model_options": {**opts, **({"level": level} if level else {})}, "fold": fold, "seed": seed,
                   "recipe": {k: spec[k] for k in ("size", "epochs", "batch", "lr", "foreground")},
                   "n_train": len(split["train"]), "n_val": len(split["val"]), "n_test": len(rows),
                   "test_subset": f"first {len(stems)} of {len(split['test'])}" if variant in NATIVE else "all",
                   "scored": test.get("inference", "input-size"),
                   "val_dice": res.get("val_dice") if level is None else None, "best_epoch": res.get("best_epoch"),
                   "val_dice_per_epoch": history(out),
                   "test_dice": sum(r["dice"] for r in rows) / len(rows),
                   "test_iou": sum(r["iou"] for r in rows) / len(rows),
                   "params": test["params"],
                   "train_seconds": res.get("train_seconds"), "wall_seconds_this_call": time.perf_counter() - t0,
                   "resumes": res.get("resumes", 0), "pruned_from": "unetsharp" if level else None,
                   "torch_threads": _threads(), "code_commit": code[0], "code_dirty": code[1],
                   "command": shlex.join(argv),
                   "train_command": train_command(ds, variant, fold, seed, out), "machine": machine(),
                   "versions": library_versions(), "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
            if isbi:
                doc["test_dice_interior"] = sum(r["dice_interior"] for r in rows) / len(rows)
            write_json_atomic(j_path, doc)
        return f"trained{' (resumed)' if resume else ''}: val {res.get('val_dice'):.4f}, test {doc['test_dice']:.4f}" \
            if level is None else "trained"


def history(out: Path) -> list[float]:
    """Validation Dice after each epoch (the training's metrics.json), so convergence can be read from the
    committed results without the checkpoints."""
    doc = json.loads((out / "metrics.json").read_text())
    return [round(float(h["val_dice"]), 6) for h in doc.get("history") or []]


def write_plan() -> dict[str, dict[str, Any]]:
    splits = {ds: write_splits(ds) for ds in SETS}
    plan = {"schema": "edgeseg-campaign-plan/1", "split_seed": SPLIT_SEED,
            "aliases": {"sdunet": f"sdunet-ws-{DEFAULT_WS}"},
            "sets": {ds: {**spec, "n_images": splits[ds]["n_images"],
                          "n_train": len(splits[ds]["folds"][0]["train"]), "n_val": len(splits[ds]["folds"][0]["val"]),
                          "n_test": sum(len(f["test"]) for f in splits[ds]["folds"]),
                          "folds": len(splits[ds]["folds"])} for ds, spec in SETS.items()},
            "variants": {v: {"model": m, "options": o, "seeds": list(s), "sets": list(d),
                             **({"recipe": OVERRIDES[v]} if v in OVERRIDES else {})}
                         for v, (m, o, s, d) in VARIANTS.items()},
            "pruned_levels": [f"unetsharp-l{k}" for k in PRUNED_LEVELS],
            "recipe": "Adam, per-step cosine to 0, BCE + soft Dice (mean over deep-supervision heads), flips/rot90/"
                      "brightness-contrast/scale-shift augmentation on the training split, best validation Dice "
                      "checkpoint, x/255 normalised (mean 0.5, std 0.5)",
            "jobs": len(jobs())}
    write_json_atomic(RESULTS / "plan.json", plan)
    return splits


def summary() -> None:
    import statistics as st

    for ds in SETS:
        print(f"== {ds}")
        for v in VARIANTS:
            docs = [json.loads(p.read_text()) for p in sorted((RESULTS / ds / v).glob("*.json"))]
            if docs:
                val = [d["val_dice"] for d in docs if d.get("val_dice") is not None]
                print(f"  {v:20s} runs {len(docs):2d}  val Dice {st.mean(val) if val else float('nan'):.4f}  "
                      f"test Dice {st.mean(d['test_dice'] for d in docs):.4f}")


def main(argv: list[str] | None = None) -> int:
    global RESULTS
    argv = list(sys.argv[1:] if argv is None else argv)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("action", choices=["plan", "run", "summary"])
    ap.add_argument("--only", nargs="+", choices=list(SETS), help="data sets to run (default: all)")
    ap.add_argument("--variants", nargs="+", choices=list(VARIANTS), help="variants to run (default: all)")
    ap.add_argument("--threads", type=int, default=2, help="torch threads")
    ap.add_argument("--runs", type=Path, default=RUNS, help="checkpoints (outside the repo)")
    ap.add_argument("--results", type=Path, default=RESULTS, help="where the result files go")
    args = ap.parse_args(argv)
    RESULTS = args.results
    if args.action == "summary":
        summary()
        return 0
    splits = write_plan()
    todo = jobs(args.only, args.variants)
    if args.action == "plan":
        for j in todo:
            print(*j, "done" if result_paths(*j)[1].is_file() else "todo")
        return 0
    import torch

    torch.set_num_threads(args.threads)
    code = git_state()
    for rnd in range(2):  # a second pass takes the runs another process held during the first
        for i, (ds, v, fold, seed) in enumerate(todo):
            t0 = time.perf_counter()
            state = run_job(ds, v, fold, seed, args.runs, splits, ["python", "benchmarks/campaign.py", *argv], code)
            if state != "done":
                print(f"[{rnd + 1}: {i + 1}/{len(todo)}] {ds} {v} f{fold} s{seed}: {state} "
                      f"({time.perf_counter() - t0:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
