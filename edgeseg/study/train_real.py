"""Train the seed networks with ONE recipe on each real data set; write benchmarks/results/train-<dataset>.json.
The same files summarised: benchmarks/results/TRAINING.md (`table_main`, benchmarks/train_table.py).

    python benchmarks/train_real.py                                   # CPU budget: 128x128, 20 epochs
    python benchmarks/train_real.py --device cuda --size 256 256 --epochs 100 --batch 16   # the GPU recipe
    python benchmarks/train_real.py --models tinyunet --datasets isbi2012-em --epochs 1 --size 64 64  # proof

Every network gets the same split (seed), input size, epochs, batch, optimiser (Adam, cosine), loss
(BCE + Dice) and augmentation: only the architecture differs. Checkpoints go to the git-ignored
runs/train-real/<dataset>/<model>-<recipe>/ (a rerun with the same recipe reuses finished runs and resumes
interrupted ones). ISBI 2012 is trained with the membrane (black, mask value 0) as foreground, the class
the challenge and SD-UNet score; the interior (white) Dice of the same predictions is reported beside it.

    python benchmarks/train_table.py                                  # TRAINING.md from the train-*.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from edgeseg.artifacts import library_versions, sha256_file, write_bytes_atomic, write_json_atomic
from edgeseg.bench.machine import machine_line
from edgeseg.errors import EdgesegError
from edgeseg.study.paths import RESULTS, ROOT, SHARED_DATA, script_command

SCHEMA = "edgeseg-train/1"
DEFAULT_MODELS = ["tinyunet", "ulite", "sdunet", "unet"]
OPTIONAL_MODELS = ["gpunet", "ghostunet", "unetsharp"]
DATASETS = {
    # name: (--foreground, what the foreground is)
    "isbi2012-em": ("invert", "membrane (mask value 0, black) as foreground; interior Dice reported too"),
    "dsb2018-nuclei": ("auto", "nucleus (mask value 255)"),
    "kvasir-seg": ("auto", "polyp (mask value 255)"),
}
MODEL_OPTIONS: dict[str, dict[str, Any]] = {
    "unetsharp": {"deep_supervision": True},  # the paper trains with deep supervision (loss averaged over heads)
}


def _rel(p: Path) -> str:
    try:
        return str(p.resolve().relative_to(ROOT))
    except ValueError:
        return str(p)


def run_one(model: str, dataset: str, shared: Path, recipe: dict[str, Any], runs: Path) -> dict[str, Any]:
    from edgeseg.train import train

    fg, _ = DATASETS[dataset]
    tag = f"{recipe['size'][0]}x{recipe['size'][1]}-e{recipe['epochs']}-b{recipe['batch']}-s{recipe['seed']}"
    out = runs / dataset / f"{model}-{tag}"
    opts = dict(model=model, data=str(shared / dataset), size=tuple(recipe["size"]), epochs=recipe["epochs"],
                batch=recipe["batch"], lr=recipe["lr"], seed=recipe["seed"], device=recipe["device"],
                workers=recipe["workers"], foreground=fg, model_options=MODEL_OPTIONS.get(model, {}),
                quiet=recipe["quiet"])
    status = None
    if (out / "metrics.json").is_file():
        status = json.loads((out / "metrics.json").read_text()).get("status")
    resume = status == "training" and (out / "last.pt").is_file()  # interrupted: continue it
    if resume:
        opts = {k: opts[k] for k in ("workers", "device", "quiet")}
    t0 = time.perf_counter()
    res = train(out, resume=resume, **opts)
    test = res.get("test") or {}
    row = {"model": model, "params": res["params"], "epochs": len(res["history"]), "val_dice": res["val_dice"],
           "test_dice": res["test_dice"], "test_iou": res["test_iou"], "train_seconds": res["train_seconds"],
           "checkpoint_sha256": sha256_file(out / "best.pt"), "best_epoch": res["best_epoch"],
           "val_dice_untrained": res.get("val_dice_untrained"), "test_dice_pooled": test.get("dice_pooled"),
           "test_n_images": test.get("n_images"), "checkpoint": _rel(out / "best.pt"),
           "wall_seconds_this_call": time.perf_counter() - t0}
    if dataset == "isbi2012-em":
        row["test_dice_membrane"] = res["test_dice"]
        row["test_dice_interior"] = test.get("dice_bg")
    return row


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=SHARED_DATA, help="folder with the data sets")
    ap.add_argument("--models", nargs="+", default=DEFAULT_MODELS,
                    help=f"default {' '.join(DEFAULT_MODELS)}; also {' '.join(OPTIONAL_MODELS)}")
    ap.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    ap.add_argument("--size", nargs=2, type=int, default=[128, 128], metavar=("H", "W"))
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    ap.add_argument("--workers", type=int, default=0)
    ap.add_argument("--runs", type=Path, default=ROOT / "runs" / "train-real", help="checkpoints (git-ignored)")
    ap.add_argument("--results", type=Path, default=RESULTS)
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)

    recipe = {"size": args.size, "epochs": args.epochs, "batch": args.batch, "lr": args.lr, "seed": args.seed,
              "device": args.device, "workers": args.workers, "quiet": args.quiet}
    public = {**{k: v for k, v in recipe.items() if k not in ("workers", "quiet")},
              "optimizer": "Adam, per-step cosine to 0", "loss": "BCE + soft Dice (mean over deep-supervision heads)",
              "augment": "flips, rot90, brightness/contrast, scale/shift (train split only)",
              "split": "seeded 70/15/15 train/val/test (edgeseg.data.dataset.make_split)",
              "checkpoint": "best validation Dice", "normalize": "x/255, mean 0.5, std 0.5",
              "model_options": MODEL_OPTIONS, "versions": library_versions()}
    for ds in args.datasets:
        if not (args.shared / ds / "images").is_dir():
            print(f"train_real: {args.shared / ds}: missing; pass --shared", file=sys.stderr)
            return 2
        path = args.results / f"train-{ds}.json"
        old = json.loads(path.read_text()) if path.is_file() else None
        keep = [r for r in old["runs"] if r["model"] not in args.models] \
            if old and old.get("recipe") == public else []  # same recipe: add to the models already there
        runs = []
        for m in args.models:
            print(f"== {ds}: {m}", file=sys.stderr)
            try:
                runs.append(run_one(m, ds, args.shared, recipe, args.runs))
            except EdgesegError as e:
                print(f"train_real: {ds}/{m}: {e}", file=sys.stderr)
                runs.append({"model": m, "error": str(e)})
            doc = {"schema": SCHEMA, "dataset": ds, "foreground": DATASETS[ds][1], "recipe": public,
                   "command": script_command("train_real", argv, python=sys.executable), "machine": machine_line(),
                   "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "runs": keep + runs}
            write_json_atomic(path, doc)  # after every model, so an interrupted sweep keeps what finished
        print(f"{path}: {len(keep) + len(runs)} run(s)", file=sys.stderr)
    return 0


# ------------------------------------------------------------------------------------------------ the table

def _f(v: float | None, spec: str = ".4f") -> str:
    return "-" if v is None else format(v, spec)


def table(doc: dict) -> str:
    isbi = any("test_dice_membrane" in r for r in doc["runs"])
    head = ["model", "params", "epochs", "best epoch", "val Dice", "test Dice", "test IoU", "test Dice (pooled)"]
    head += ["membrane Dice", "interior Dice"] if isbi else []
    head += ["test images", "train s"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in sorted(doc["runs"], key=lambda r: r.get("params") or 0):
        if "error" in r:
            lines.append(f"| {r['model']} | error: {r['error']} |")
            continue
        row = [r["model"], f"{r['params']:,}", str(r["epochs"]), str(r.get("best_epoch", "-")), _f(r["val_dice"]),
               _f(r["test_dice"]), _f(r["test_iou"]), _f(r.get("test_dice_pooled"))]
        row += [_f(r.get("test_dice_membrane")), _f(r.get("test_dice_interior"))] if isbi else []
        row += [str(r.get("test_n_images", "-")), _f(r.get("train_seconds"), ".0f")]
        lines.append("| " + " | ".join(row) + " |")
    rec = doc["recipe"]
    return (f"## {doc['dataset']}\n\nForeground: {doc['foreground']}. Recipe: {rec['size'][0]}x{rec['size'][1]}, "
            f"{rec['epochs']} epochs, batch {rec['batch']}, lr {rec['lr']}, {rec['optimizer']}, {rec['loss']}; "
            f"split {rec['split']}. Machine: {doc['machine']}.\n\nCommand: `{doc['command']}`\n\n"
            + "\n".join(lines) + "\n")


def table_main(argv: list[str] | None = None) -> int:
    """benchmarks/train_table.py: benchmarks/results/train-*.json (edgeseg-train/1) -> TRAINING.md."""
    argparse.ArgumentParser(description="Summarise benchmarks/results/train-*.json (edgeseg-train/1) as "
                                        "benchmarks/results/TRAINING.md.").parse_args(argv)
    docs = [json.loads(p.read_text()) for p in sorted(RESULTS.glob("train-*.json"))]
    if not docs:
        print("train_table: no benchmarks/results/train-*.json", file=sys.stderr)
        return 1
    text = ("# Training on the real sets (generated by `python benchmarks/train_table.py`)\n\n"
            "A budgeted CPU recipe, identical for every network on a data set; NOT the papers' protocols.\n\n"
            + "\n".join(table(d) for d in docs))
    write_bytes_atomic(RESULTS / "TRAINING.md", text.encode())
    print(text)
    return 0
