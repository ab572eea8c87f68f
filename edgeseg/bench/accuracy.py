"""Dice/IoU beside latency (`edgeseg bench --data DIR`), through `edgeseg.evaluate.evaluate_runner`, the
same metric code as `edgeseg eval`. Preprocessing and split come from the artifact (ONNX/engine sidecar or
checkpoint); a bare registry model (random weights) gets the default preprocessing and a note."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edgeseg.errors import EdgesegError
from edgeseg.runtime.artifact import describe_artifact


def recorded_preprocess(artifact: str | Path | None, given: dict[str, Any] | None = None
                        ) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """(preprocess dict, split dict) recorded with an artifact file (`given` in its place, as `edgeseg eval`
    --mean/--std/--preprocess), or (None, None) (e.g. a registry name)."""
    if artifact is None or not Path(str(artifact)).is_file():
        return None, None
    info = describe_artifact(artifact)
    if given:
        from edgeseg.runtime.artifact import resolve_preprocess

        return resolve_preprocess(info, given).to_dict(), info.split
    return (info.preprocess.to_dict() if info.preprocess else None), info.split


def evaluate_artifact(runner: Any, cfg: dict[str, Any], shape: list[int]) -> dict[str, Any]:
    from edgeseg.data.dataset import SegFolder, select
    from edgeseg.data.preprocess import Preprocess
    from edgeseg.evaluate import evaluate_runner

    pre, split = recorded_preprocess(cfg["artifact"], cfg.get("preprocess"))
    note = None
    if pre is None:
        pre = Preprocess(shape[2], shape[3], shape[1]).to_dict()
        note = "default preprocessing (none recorded with the artifact)"
    if (int(pre["height"]), int(pre["width"])) != (shape[2], shape[3]) and not cfg.get("inference"):
        raise EdgesegError(f"{cfg['artifact']}: recorded preprocessing is {pre['height']}x{pre['width']} but the "
                           f"bench input is {shape[2]}x{shape[3]}; bench at the trained size (--size)")
    folder = SegFolder(cfg["data"])
    split_name, samples = select(folder, split, cfg.get("split"))
    from edgeseg.tiling import TileSpec

    spec = TileSpec(overlap=cfg.get("overlap", 0.25), blend=cfg.get("blend", "gaussian"), batch=shape[0])
    res = evaluate_runner(runner, samples, pre, batch=shape[0], mode=cfg.get("inference"), tiling=spec)
    per_image = None
    if res.get("ms_per_image") is not None:  # scored at native size: the data set's mean cost per full image
        per_image = {"data_inference": res["inference"], "data_ms_per_image": res["ms_per_image"],
                     "data_images_per_s": res["images_per_s"]}
        note = "; ".join(filter(None, [note, f"dice/iou at native size, inference {res['inference']} (trained on "
                                             f"{res['training_regime']})"]))
    return {"dice": res["dice"], "iou": res["iou"], "n": res["n_images"], "split": split_name, "note": note,
            "per_image": per_image}
