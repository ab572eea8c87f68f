"""UNet#'s pruning trade-off on a trained run: evaluate levels L1-L3 cut from the deep-supervised L4 network.

The paper trains UNet# once with deep supervision and prunes at inference (fast mode): level L keeps nodes
X(i,j) with i+j <= L and answers with the X(0,L) head. This loads the trained `unetsharp` checkpoint of
`train-<dataset>.json` into level-1..3 networks (`edgeseg.models.unetsharp.prune_to_level`: their parameters
are a subset of L4's), scores each on the run's TEST split with `edgeseg.evaluate` (same code path as
`edgeseg eval`), and adds rows `unetsharp-l1..l3` (with "pruned_from") to `benchmarks/results/train-<dataset>.json`;
plain `unetsharp` is L4.

    python benchmarks/prune_unetsharp.py --dataset dsb2018-nuclei
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from edgeseg.artifacts import sha256_file, write_json_atomic
from edgeseg.checkpoint import load_checkpoint
from edgeseg.data.dataset import SegFolder, select
from edgeseg.data.preprocess import Preprocess
from edgeseg.errors import EdgesegError
from edgeseg.evaluate import evaluate_runner
from edgeseg.models.unetsharp import prune_to_level
from edgeseg.names import level_name
from edgeseg.runtime.torch_runner import TorchRunner
from edgeseg.study.paths import RESULTS, ROOT, SHARED_DATA


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", required=True)
    ap.add_argument("--shared", type=Path, default=SHARED_DATA)
    ap.add_argument("--results", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    path = args.results / f"train-{args.dataset}.json"
    doc = json.loads(path.read_text())
    run = next(r for r in doc["runs"] if r["model"] == "unetsharp" and "error" not in r)
    ckpt = ROOT / run["checkpoint"]
    if sha256_file(ckpt) != run["checkpoint_sha256"]:
        raise SystemExit(f"{ckpt}: sha256 differs from {path}; retrain")
    full, payload = load_checkpoint(ckpt)
    pre = Preprocess.from_dict(payload["preprocess"])
    _, samples = select(SegFolder(args.shared / args.dataset), payload["split"], "test")
    rows = []
    for level in (1, 2, 3):
        try:
            model = prune_to_level(full, level)
        except EdgesegError as e:
            raise SystemExit(f"{ckpt}: {e}") from None
        with TorchRunner(model, threads=2) as r:
            m = evaluate_runner(r, samples, pre)
        rows.append({"model": level_name(level), "pruned_from": "unetsharp", "params":
                     sum(p.numel() for p in model.parameters()), "epochs": run["epochs"], "val_dice": None,
                     "test_dice": m["dice"], "test_iou": m["iou"], "test_dice_pooled": m.get("dice_pooled"),
                     "test_n_images": m["n_images"], "train_seconds": None,
                     "checkpoint_sha256": run["checkpoint_sha256"]})
        print(f"L{level}: test Dice {m['dice']:.4f} IoU {m['iou']:.4f}", file=sys.stderr)
    doc["runs"] = [r for r in doc["runs"] if r.get("pruned_from") is None] + rows
    write_json_atomic(path, doc)
    return 0

