"""`edgeseg eval` and `edgeseg predict`: thin wrappers over edgeseg.evaluate and edgeseg.predict."""

from __future__ import annotations

import argparse
import json

from edgeseg.commands import inference_args, positive_int, preprocess_args


def register(sub: argparse._SubParsersAction) -> None:
    e = sub.add_parser("eval", help="score a checkpoint, ONNX file or engine on a data folder",
                       description="Dice, IoU, pixel accuracy, precision, recall: mean over images and pooled over "
                                   "the set. Both-empty masks score Dice 1. Masks are compared at the model input "
                                   "size unless --native, --tile or --resize (or the network was trained with "
                                   "--native-crop: then tiled at native size).")
    e.add_argument("artifact", help="best.pt, model.onnx (with its .onnx.json sidecar) or an .engine")
    e.add_argument("--data", required=True, help="folder with images/ and masks/")
    e.add_argument("--split", choices=["test", "val", "train", "all"],
                   help="which images (default: test if the artifact records a split, else all)")
    e.add_argument("--split-file", help="split.json of the training run (for artifacts that do not record one)")
    e.add_argument("--foreground", help="override the recorded mask mapping (see edgeseg train --help)")
    e.add_argument("--device", choices=["cpu", "cuda"], default="cpu", help="for .pt checkpoints")
    e.add_argument("--threads", type=positive_int, help="CPU threads for the backend")
    e.add_argument("--batch", type=positive_int, default=8, help="images per inference call (dynamic-batch artifacts)")
    e.add_argument("--native", action="store_true",
                   help="score at each image's own size (as predict writes; by --tile or --resize, default: "
                        "the training regime's) instead of the model input size")
    inference_args.add(e)
    preprocess_args.add(e)
    e.add_argument("--no-progress", dest="progress", action="store_false",
                   help="no progress bar (shown on stderr at native size when stderr is a terminal)")
    e.add_argument("--json", action="store_true", help="print the summary as JSON")
    e.add_argument("--csv", metavar="FILE", help="write per-image metrics to FILE")
    e.set_defaults(func=run_eval)

    p = sub.add_parser("predict", help="write masks and overlays for images",
                       description="Masks at each image's original size (OUT/masks) and overlays (OUT/overlays).")
    p.add_argument("artifact", help="best.pt, model.onnx or an .engine")
    p.add_argument("images", nargs="+", help="image files")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--threads", type=positive_int)
    inference_args.add(p)
    preprocess_args.add(p, foreground=True)
    p.set_defaults(func=run_predict)


SUMMARY_KEYS = ("dice", "iou", "accuracy", "precision", "recall", "dice_pooled", "iou_pooled", "dice_bg",
                "n_images")


def run_eval(args: argparse.Namespace) -> int:
    from edgeseg.artifacts import check_output_path
    from edgeseg.evaluate import evaluate_artifact, write_csv

    if args.csv:
        check_output_path(args.csv)
    res = evaluate_artifact(args.artifact, args.data, split=args.split, split_file=args.split_file,
                            foreground=args.foreground, device=args.device, threads=args.threads, batch=args.batch,
                            native=args.native, mode=inference_args.mode(args), tiling=inference_args.spec(args),
                            progress=args.progress, preprocess=preprocess_args.given(args))
    rows = res.pop("per_image")
    if args.csv:
        write_csv(args.csv, rows)
    if args.json:
        print(json.dumps(res, indent=2))
    else:
        print(f"{res['artifact']} ({res['backend']}) on {res['data']} [{res['split']}, {res['n_images']} images, "
              f"foreground {res['foreground']}, at {res['resolution']}, inference {res['inference']}]")
        if res.get("training_regime"):
            print(f"  trained on {res['training_regime']}; {res['ms_per_image']:.1f} ms per image")
        for k in SUMMARY_KEYS[:-1]:
            if res.get(k) is not None:
                print(f"  {k:<12} {res[k]:.4f}")
    return 0


def run_predict(args: argparse.Namespace) -> int:
    from edgeseg.predict import predict

    info: dict = {}
    written = predict(args.artifact, args.images, args.out, device=args.device, threads=args.threads,
                      mode=inference_args.mode(args), tiling=inference_args.spec(args), info=info,
                      preprocess=preprocess_args.given(args, foreground=True))
    print(f"{args.out}: {len(written) // 2} mask(s) and overlay(s) at native size, inference {info['inference']} "
          f"(trained on {info['training_regime']})")
    return 0
