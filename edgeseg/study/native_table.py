"""Native-size table: Dice tiled vs resized, ms per whole image on the CPU, peak memory on the largest image.

    python benchmarks/native_table.py --dataset dsb2018-nuclei-564 kvasir-seg-900          # the committed table
    python benchmarks/native_table.py --dataset dsb2018-nuclei-564 --limit 2 --out-dir /tmp/nt   # a smoke run

For U-Net, SD-UNet, TinyU-Net and U-Lite, two training regimes each:
* the campaign's runs trained on whole images resized to the input (`RUNS/<set>/<variant>/f0-s0/best.pt`),
* the native-scale variants trained on random input-size crops at native scale (`<variant>-native`, made by
  `edgeseg train --native-crop`).
Each checkpoint is exported to FP32 ONNX (dynamic batch, edgeseg.recipe, cached) and run with ONNX Runtime on
`--threads` CPU threads (default 2) on the campaign's TEST split (benchmarks/results/campaign/splits/<set>.json,
or --split-file; --limit N keeps the first N stems), both ways, scored at each image's native size by the
`edgeseg eval` code path: `--tile` (sliding windows of the input size, --overlap, --blend) and `--resize`.
ms per image = mean over those images of preprocessing + network + blending/upsampling (file reading
excluded). Peak RSS: one fresh process runs the largest test image tiled, another one tile batch; the
bound is 2 x the tile-batch peak + the image + its full-size logits (issue 14).

A tiled-vs-resized difference of a network trained on resized images is a change of SCALE as much as of
method (tiles show objects `scale` times larger than training did): every row carries its training regime and
that factor, and the .md says so. Missing checkpoints are rows "not yet measured", never a crash.
Writes OUT_DIR/native-<set>.json and .md with the command and the machine.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from edgeseg.artifacts import atomic_path, library_versions, sha256_file, write_json_atomic
from edgeseg.bench.machine import machine_line
from edgeseg.errors import EdgesegError
from edgeseg.study.paths import CAMPAIGN, CAMPAIGN_RUNS, RESULTS, SHARED, script_command

MODELS = ("unet", "sdunet", "tinyunet", "ulite")
LABELS = {"unet": "U-Net", "sdunet": "SD-UNet", "tinyunet": "TinyU-Net", "ulite": "U-Lite"}
SETS = ("dsb2018-nuclei-564", "kvasir-seg-900")


# ------------------------------------------------------------------------------------------------ inputs

def variant_names(model: str) -> list[str]:
    """Campaign variant names of a model, most specific first (SD-UNet: plan.json's alias, e.g. sdunet-ws-layer)."""
    names = [model]
    plan = CAMPAIGN / "plan.json"
    if plan.is_file():
        alias = json.loads(plan.read_text()).get("aliases", {}).get(model)
        names = ([alias] if alias else []) + names
    if model == "sdunet" and "sdunet-ws-layer" not in names:
        names.append("sdunet-ws-layer")
    return names


def find_checkpoint(runs: Path, dataset: str, model: str, native: bool,
                    given: dict[str, Path]) -> tuple[Path | None, str]:
    """(best.pt or None, the variant name looked for)."""
    key = f"{model}-native" if native else model
    if key in given:
        return given[key], key
    tried = [f"{v}-native" if native else v for v in variant_names(model)]
    for v in tried:
        p = runs / dataset / v / "f0-s0" / "best.pt"
        if p.is_file():
            return p, v
    return None, tried[0]


def test_stems(dataset: str, split_file: Path | None, ckpt_split: dict[str, Any] | None) -> tuple[list[str], str]:
    """The test stems and where they came from: the campaign split file, --split-file, or the checkpoint."""
    path = split_file or CAMPAIGN / "splits" / f"{dataset}.json"
    if path.is_file():
        doc = json.loads(path.read_text())
        stems = doc["folds"][0]["test"] if "folds" in doc else doc["test"]
        return sorted(stems), str(path)
    if split_file is not None:
        raise EdgesegError(f"{split_file}: no such split file; pass a campaign split (splits/<set>.json)")
    if ckpt_split and ckpt_split.get("test"):
        return sorted(ckpt_split["test"]), "the checkpoint's recorded test split (no campaign split file yet)"
    raise EdgesegError(f"{path}: no campaign split yet and the checkpoint records no test split; pass --split-file")


def largest(samples: list[Any]) -> Any:
    from PIL import Image

    def area(s: Any) -> int:
        with Image.open(s.image) as im:
            return im.size[0] * im.size[1]

    return max(samples, key=area)


# ------------------------------------------------------------------------------------------------ one row

def measure(ckpt: Path, variant: str, model: str, dataset: str, args: argparse.Namespace) -> dict[str, Any]:
    import numpy as np
    from PIL import Image

    from edgeseg.bench.full_image import memory_bound, peak_rss
    from edgeseg.checkpoint import read_checkpoint
    from edgeseg.data.dataset import SegFolder
    from edgeseg.data.preprocess import Preprocess
    from edgeseg.evaluate import evaluate_runner
    from edgeseg.native import training_regime
    from edgeseg.recipe import Recipe, materialize
    from edgeseg.runtime.ort_runner import OnnxRuntimeRunner
    from edgeseg.tiling import TileSpec

    payload = read_checkpoint(ckpt)
    pp = Preprocess.from_dict(payload["preprocess"])
    folder = SegFolder(args.shared / dataset)
    stems, split_src = test_stems(dataset, args.split_file, payload.get("split"))
    samples = folder.subset(stems[:args.limit] if args.limit else stems, "test split")
    onnx = materialize(Recipe(str(ckpt), "fp32", batch="dynamic",
                              out=args.cache / f"{dataset}-{variant}-fp32.onnx")).onnx
    spec = TileSpec(overlap=args.overlap, blend=args.blend, batch=args.tile_batch)
    row: dict[str, Any] = {"model": model, "variant": variant, "status": "measured", "training_regime":
                           training_regime(pp), "native_scale_training": pp.native_scale,
                           "checkpoint": str(ckpt), "checkpoint_sha256": sha256_file(ckpt), "onnx": str(onnx),
                           "input": [pp.height, pp.width], "split": split_src, "n_images": len(samples)}
    sizes = []
    for s in samples:
        with Image.open(s.image) as im:
            sizes.append(im.size[::-1])
    # how much larger objects look in a native-scale tile than in the network's training input
    row["scale_vs_training"] = 1.0 if pp.native_scale else float(np.median(
        [np.sqrt(h * w / (pp.height * pp.width)) for h, w in sizes]))
    with OnnxRuntimeRunner(onnx, threads=args.threads) as r:
        for mode in ("tile", "resize"):
            res = evaluate_runner(r, samples, pp, mode=mode, tiling=spec, progress=True)
            row[f"dice_{mode}"], row[f"iou_{mode}"] = res["dice"], res["iou"]
            row[f"ms_per_image_{mode}_fp32"] = res["ms_per_image"]
            if mode == "tile":
                row["tiling"], row["tiles_per_image"] = res["tiling"], res["tiles_per_image"]
    row["dice_tile_minus_resize"] = row["dice_tile"] - row["dice_resize"]
    if args.memory:
        big = largest(list(folder.subset(stems, "test split")))
        kw = dict(threads=args.threads, overlap=args.overlap, blend=args.blend, batch=args.tile_batch)
        img = peak_rss(onnx, pp.to_dict(), what="image", image=big.image, mode="tile", **kw)
        tile = peak_rss(onnx, pp.to_dict(), what="tile", **kw)
        row["largest_image"] = {"stem": big.stem, "shape": img["image_shape"]}
        row.update(memory_bound(img, tile), rss_method=img["method"], image_mb=img["image_mb"],
                   logits_mb=img["logits_mb"], tile_batch=tile["tile_batch"])
    return row


# ------------------------------------------------------------------------------------------------ table

def _f(v: Any, spec: str) -> str:
    return "-" if v is None else format(v, spec)


def markdown(doc: dict[str, Any]) -> str:
    lines = [f"# Native size: tiled vs resized on {doc['dataset']}", "",
             f"Command: `{doc['command']}`  ", f"Machine: {doc['machine']}  ",
             f"Created: {doc['created']}; ONNX Runtime FP32 on {doc['threads']} CPU thread(s); split: "
             f"{doc['split'] or '-'}; tiles: overlap {doc['overlap']}, {doc['blend']} blending, reflect padding.", "",
             "Dice at each image's native size (mean over images). *tile* = sliding windows of the network input at "
             "native scale; *resize* = the image squashed to the input, logits upsampled. **Read tile − resize "
             "with the training regime:** a network trained on resized whole images sees objects `scale` times "
             "larger in a native tile than in training, so for those rows the difference measures the scale "
             "mismatch as much as tiling. Only the native-scale rows compare the two methods at the training scale.",
             "",
             "| Model | Trained on | scale | n | Dice tile | Dice resize | tile − resize | ms/img tile | "
             "ms/img resize | peak RSS largest (MB) | bound (MB) | within |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|:---:|"]
    for r in doc["rows"]:
        name = f"{LABELS[r['model']]} ({r['variant']})"
        if r["status"] != "measured":
            lines.append(f"| {name} | {r['training_regime']} | | | {r['status']} | | | | | | | |")
            continue
        within = {True: "yes", False: "**no**", None: "-"}[r.get("rss_within_bound")]
        lines.append(f"| {name} | {r['training_regime']} | {r['scale_vs_training']:.1f}x | {r['n_images']} | "
                     f"{r['dice_tile']:.4f} | {r['dice_resize']:.4f} | {r['dice_tile_minus_resize']:+.4f} | "
                     f"{r['ms_per_image_tile_fp32']:.1f} | {r['ms_per_image_resize_fp32']:.1f} | "
                     f"{_f(r.get('peak_rss_image_mb'), '.0f')} | "
                     f"{_f(r.get('rss_bound_mb'), '.0f')} | {within} |")
    lines += ["", "Peak RSS: growth of a fresh process loading the ONNX and running the largest test image tiled; "
              "bound = 2 x the peak of one tile "
              "batch + the image (uint8 + float32) + its full-size logits.", ""]
    return "\n".join(lines)


def run_dataset(dataset: str, args: argparse.Namespace, given: dict[str, Path], command: str) -> dict[str, Any]:
    rows, split = [], None
    for model in args.models:
        for native in (False, True):
            ckpt, variant = find_checkpoint(args.runs, dataset, model, native, given)
            regime = "native-scale crops" if native else "whole images, resized"
            if ckpt is None:
                rows.append({"model": model, "variant": variant, "training_regime": regime, "status":
                             f"not yet measured (no {args.runs / dataset / variant / 'f0-s0' / 'best.pt'})"})
                print(f"{dataset} {variant}: no checkpoint, not yet measured", file=sys.stderr)
                continue
            print(f"{dataset} {variant}: {ckpt}", file=sys.stderr, flush=True)
            row = measure(ckpt, variant, model, dataset, args)
            split = split or row["split"]
            rows.append(row)
    return {"schema": "edgeseg-native-table/1", "dataset": dataset, "command": command,
            "machine": machine_line(), "versions": library_versions(),
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "threads": args.threads,
            "overlap": args.overlap, "blend": args.blend, "tile_batch": args.tile_batch, "split": split,
            "limit": args.limit, "rows": rows}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", nargs="+", default=list(SETS), help="default: both")
    ap.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    ap.add_argument("--runs", type=Path, default=CAMPAIGN_RUNS, help="the campaign's checkpoints")
    ap.add_argument("--checkpoint", action="append", default=[], metavar="VARIANT=PATH",
                    help="use PATH for VARIANT (e.g. unet=... or unet-native=...) instead of RUNS")
    ap.add_argument("--shared", type=Path, default=SHARED)
    ap.add_argument("--split-file", type=Path, help="default: benchmarks/results/campaign/splits/<set>.json")
    ap.add_argument("--limit", type=int, help="only the first N test images (smoke runs)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--overlap", type=float, default=0.25)
    ap.add_argument("--blend", choices=("gaussian", "linear"), default="gaussian")
    ap.add_argument("--tile-batch", type=int, default=8)
    ap.add_argument("--no-memory", dest="memory", action="store_false", help="skip the peak-RSS runs")
    ap.add_argument("--cache", type=Path, default=CAMPAIGN_RUNS / "native-onnx",
                    help="where the FP32 ONNX exports go")
    ap.add_argument("--out-dir", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    command = script_command("native_table", argv)
    given = {}
    for spec in args.checkpoint:
        k, sep, v = spec.partition("=")
        if not sep or not Path(v).is_file():
            raise SystemExit(f"--checkpoint {spec!r}: expected VARIANT=PATH to an existing best.pt")
        given[k] = Path(v)
    try:
        for ds in args.dataset:
            doc = run_dataset(ds, args, given, command)
            write_json_atomic(args.out_dir / f"native-{ds}.json", doc)
            with atomic_path(args.out_dir / f"native-{ds}.md") as tmp:
                tmp.write_text(markdown(doc))
            print(f"wrote {args.out_dir / f'native-{ds}.json'} and .md", file=sys.stderr)
    except EdgesegError as e:
        print(f"native_table: error: {e}", file=sys.stderr)
        return 2
    return 0
