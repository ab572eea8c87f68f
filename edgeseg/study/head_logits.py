"""Why a campaign run never learned: the logits and the head's input on the run's own validation images.

For every finished single-output run of the chosen variants, loads its best checkpoint and records, over the
first N validation images of its split: the head's bias, the largest logit, the share of pixels above 0 (the
0.5 threshold), and the share of the head's input channels that are zero on every pixel (dead ReLU features).
A run whose largest logit equals the head's bias and whose head input is mostly dead cannot predict foreground
whatever the image: the collapse is in the network, not in the threshold or the data.

    python benchmarks/head_logits.py --variants sdunet-ws-layer --out benchmarks/results/campaign/head-logits.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from edgeseg.artifacts import write_json_atomic
from edgeseg.study.paths import CAMPAIGN, CAMPAIGN_RUNS, SHARED, script_command


def head_stats(ckpt: Path, images: list[Path]) -> dict[str, Any]:
    import numpy as np
    import torch

    from edgeseg.checkpoint import load_checkpoint
    from edgeseg.data.dataset import read_image
    from edgeseg.data.preprocess import Preprocess

    model, payload = load_checkpoint(ckpt)
    model.eval()
    pre = Preprocess.from_dict(payload["preprocess"])
    head = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)][-1]
    seen: list[torch.Tensor] = []
    hook = head.register_forward_hook(lambda m, i, o: seen.append(i[0].detach()))
    x = torch.from_numpy(np.stack([pre.image(read_image(p)) for p in images]))
    with torch.no_grad():
        y = model(x)
    hook.remove()
    y = y[0] if isinstance(y, (list, tuple)) else y
    feats = seen[-1]
    dead = (feats.abs().amax(dim=(0, 2, 3)) == 0).float().mean()
    bias = float(head.bias.detach()[0]) if head.bias is not None else 0.0
    return {"head_bias": round(bias, 4), "max_logit": round(float(y.max()), 4),
            "share_above_threshold": round(float((y > 0).float().mean()), 5),
            "head_input_channels": int(feats.shape[1]), "dead_head_input_share": round(float(dead), 4),
            "n_images": len(images)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variants", nargs="+", default=["sdunet-ws-layer"])
    ap.add_argument("--runs", type=Path, default=CAMPAIGN_RUNS, help="the campaign's checkpoints")
    ap.add_argument("--images", type=int, default=8, help="validation images per run")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    rows = []
    for js in sorted(CAMPAIGN.glob("*/*/f*-s*.json")):
        ds, variant = js.parent.parent.name, js.parent.name
        ckpt = args.runs / ds / variant / js.stem / "best.pt"
        if variant not in args.variants or not ckpt.is_file():
            continue
        meta = json.loads(js.read_text())
        split = json.loads((CAMPAIGN / "splits" / f"{ds}-f{meta['fold']}.json").read_text())
        images = [p for s in split["val"][: args.images] for p in (SHARED / ds / "images").glob(f"{s}.*")]
        row = {"dataset": ds, "variant": variant, "fold": meta["fold"], "seed": meta["seed"],
               "best_val_dice": meta.get("val_dice"), "test_dice": meta.get("test_dice")}
        row |= head_stats(ckpt, images)
        print(json.dumps(row), flush=True)
        rows.append(row)
    if args.out:
        write_json_atomic(args.out, {"schema": "edgeseg-head-logits/1", "command": script_command("head_logits", argv),
                                     "runs": rows})
    return 0
