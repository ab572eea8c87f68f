"""The one Dice budget rule behind `--max-dice-drop`, in `edgeseg quantize --int8` and `edgeseg optimize`.

Rule (`RULE`, also in both commands' --help): a candidate is within budget when the UPPER BOUND of the 95 %
paired image-bootstrap interval (`edgeseg.intervals.paired_bootstrap`, seeded) of its Dice drop, reference
minus candidate in percentage points, over EVERY image of the validation split, is <= the budget. Per-image
Dice is `edgeseg eval`'s (`evaluate.evaluate_runner`: the recorded preprocessing and label mapping, tiled at
native scale for a network trained on native-scale crops). A point estimate on a few images would let a drop
the data cannot rule out pass; the upper bound only passes what the validation images support.

Which images (`eval_set`, quantize): the validation split recorded with the FP32 graph (exported from a
checkpoint) or with the calibration set's checkpoint; without one, every image of --data (a held-out folder).
Never a calibration image. Without masks the reference is the FP32 graph's own prediction: per-image drop =
100 * (1 - Dice(INT8, FP32)), at the model input size. `optimize` scores its checkpoint's validation split.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from edgeseg.errors import EdgesegError
from edgeseg.names import INPUT_NAME

if TYPE_CHECKING:  # the commands read RULE/HELP at start-up: the data readers load when a budget is measured
    from edgeseg.data.dataset import LabelMap, Sample
    from edgeseg.data.preprocess import Preprocess

RULE = ("upper bound of the 95% paired image-bootstrap interval of the Dice drop (reference - candidate, "
        "percentage points) over every validation image <= --max-dice-drop")
HELP = ("Dice budget in percentage points: the upper bound of the 95%% bootstrap interval of the Dice drop vs "
        "FP32 over the whole validation split (tiled for native-crop networks) must be <= it")


def check_max_drop(max_drop: float) -> None:
    """Refuse a budget that is not a number >= 0 (NaN included), in one line."""
    if not max_drop >= 0:
        raise EdgesegError(f"--max-dice-drop {max_drop}: a Dice budget is a drop in percentage points >= 0")


def dice_drop(reference: Mapping[str, float], candidate: Mapping[str, float]) -> dict[str, Any]:
    """{"mean", "low", "high", "n", "level", "n_boot"}: the drop in pp (reference - candidate, per-image Dice in
    [0, 1], paired by image stem) with its image-bootstrap interval."""
    from edgeseg.intervals import N_RESAMPLES, paired_bootstrap

    if set(reference) != set(candidate):
        raise EdgesegError(f"Dice budget: the candidate scored {len(candidate)} images, the reference "
                           f"{len(reference)}; both must score the same validation images")
    stems = sorted(reference)
    iv = paired_bootstrap([100 * reference[s] for s in stems], [100 * candidate[s] for s in stems])
    return {"mean": iv.estimate, "low": iv.lo, "high": iv.hi, "n": iv.n, "level": iv.level, "n_boot": N_RESAMPLES}


def within_budget(drop: Mapping[str, Any], max_drop: float) -> bool:
    """The rule: the interval's upper bound of the drop is <= the budget."""
    return float(drop["high"]) <= max_drop


# requantize(excluded node names, calibration cache, destination): the INT8 graph with those nodes in float
Requantize = Callable[[list[str], Path, Path], None]


@dataclass
class EvalSet:
    samples: list[Sample]
    preprocess: Preprocess             # recorded with the FP32 graph
    labels: LabelMap | None            # the masks' mapping (None: the folder has no masks)
    images: np.ndarray                 # N x C x H x W at the model input size (layer ranking, agreement)
    sha256: list[str]
    reference: dict[str, float] = field(default_factory=dict)  # FP32 per-image Dice, scored once


def _validation_stems(fp32: Path, manifest: dict[str, Any]) -> tuple[set[str] | None, str | None]:
    """(validation stems, where they were recorded) of the FP32 graph's checkpoint, else the calibration's."""
    from edgeseg.runtime.opener import describe_artifact

    val = (describe_artifact(fp32).split or {}).get("val")
    if isinstance(val, list) and val:
        return set(val), str(fp32)
    ckpt = manifest.get("checkpoint")
    if manifest.get("split") and ckpt and Path(ckpt).is_file():
        from edgeseg.checkpoint import read_checkpoint

        return set((read_checkpoint(ckpt).get("split") or {}).get("val") or []), str(ckpt)
    return None, None


def eval_set(data: str | Path, fp32: Path, manifest: dict[str, Any]) -> EvalSet:
    """Every held-out image of `data` the budget is decided on (module docstring), read as `edgeseg eval` reads."""
    from edgeseg.artifacts import sha256_file
    from edgeseg.data.dataset import SegFolder, read_pair
    from edgeseg.data.preprocess import Preprocess
    from edgeseg.evaluate import label_map_for
    from edgeseg.runtime.opener import describe_artifact

    data = Path(data)
    if not data.is_dir():
        raise EdgesegError(f"{data}: no such data directory for the Dice budget; pass --data DIR")
    folder = SegFolder(data, masks=(data / "masks").is_dir())
    samples = list(folder.samples)
    val, where = _validation_stems(fp32, manifest)
    if val is not None:  # neither the training images nor the test images (kept for the final report) decide
        samples = [s for s in samples if s.stem in val]
        if not samples:
            raise EdgesegError(f"{data}: none of the validation images of {where} are here; pass the data folder "
                               f"that run was trained on as --data")
    used = {i["sha256"] for i in manifest["images"]}
    chosen, hashes = [], []
    for s in samples:
        h = sha256_file(s.image)
        if h not in used:
            chosen.append(s)
            hashes.append(h)
    if not chosen:
        raise EdgesegError(f"{data}: no images outside the calibration set to measure the Dice drop on; "
                           f"pass held-out data")
    pp = describe_artifact(fp32).preprocess or Preprocess.from_dict(manifest["preprocess"])
    images = np.stack([pp.image(read_pair(s, pp.channels)[0]) for s in chosen])
    labels = None if folder.samples[0].mask is None else label_map_for(chosen, pp, None, folder)
    return EvalSet(chosen, pp, labels, images, hashes)


def _per_image(path: Path, es: EvalSet) -> dict[str, float]:
    """{stem: Dice} of one graph on the eval set, through `evaluate.evaluate_runner` (the `edgeseg eval` path)."""
    from edgeseg.evaluate import evaluate_runner
    from edgeseg.runtime.ort_runner import OnnxRuntimeRunner

    with OnnxRuntimeRunner(path) as r:
        res = evaluate_runner(r, es.samples, es.preprocess, labels=es.labels)
    return {str(row["image"]): float(row["dice"]) for row in res["per_image"]}


def _agreement(int8: Path, fp32: Path, es: EvalSet) -> dict[str, float]:
    """{stem: Dice of the INT8 graph's prediction against the FP32 graph's} (the metric code of eval)."""
    from edgeseg.evaluate import run_logits
    from edgeseg.metrics import SegMetrics, labels_from_logits
    from edgeseg.runtime.ort_runner import OnnxRuntimeRunner

    preds = []
    for path in (int8, fp32):
        with OnnxRuntimeRunner(path) as r:
            logits = run_logits(r, es.images)
        preds.append(labels_from_logits(logits))
    m = SegMetrics(int(logits.shape[1]))
    for p, g, s in zip(*preds, es.samples, strict=True):
        m.add(p, g, s.stem)
    return {str(row["image"]): float(row["dice"]) for row in m.rows}


def measure_dice_drop(fp32: Path, int8: Path, es: EvalSet) -> dict[str, Any]:
    """The INT8 graph's Dice drop vs the FP32 graph on the eval set: "drop_pp" (the mean) and its interval."""
    res: dict[str, Any] = {"images": len(es.samples)}
    if es.labels is not None:
        if not es.reference:
            es.reference.update(_per_image(fp32, es))
        cand = _per_image(int8, es)
        drop = dice_drop(es.reference, cand)
        res.update(reference="ground-truth masks", dice_fp32=float(np.mean(list(es.reference.values()))),
                   dice_int8=float(np.mean(list(cand.values()))))
    else:
        agree = _agreement(int8, fp32, es)
        drop = dice_drop(dict.fromkeys(agree, 1.0), agree)
        res.update(reference="fp32 predictions", agreement_dice=float(np.mean(list(agree.values()))))
    res.update(drop_pp=drop["mean"], drop_pp_interval=drop)
    return res


def _outputs(path: Path, xs: list[np.ndarray], extra: list[str]) -> list[dict[str, np.ndarray]]:
    """Every named tensor in `extra` (made graph outputs) for each batch in `xs`, through ONNX Runtime."""
    import onnx
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.log_severity_level = 3
    m = onnx.load(str(path))
    have = {o.name for o in m.graph.output}
    m.graph.output.extend(onnx.helper.make_empty_tensor_value_info(t) for t in extra if t not in have)
    sess = ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    return [dict(zip(names, sess.run(None, {INPUT_NAME: x}), strict=True)) for x in xs]


def layer_sensitivity(fp32: Path, int8: Path, xs: list[np.ndarray], ops: Sequence[str]) -> list[tuple[str, float]]:
    """(node name, error it adds) for every quantized op, worst first.

    Error added = normalised MSE (INT8 vs FP32 graph) of the node's output minus that of its activation
    input, so a layer is not blamed for the error accumulated upstream of it.
    """
    import onnx

    m = onnx.load(str(fp32))
    nodes = [(n.name, n.input[0], n.output[0]) for n in m.graph.node if n.op_type in ops]
    graph_in = {i.name for i in m.graph.input}
    tensors = sorted({t for _, i, o in nodes for t in (i, o) if t not in graph_in})
    a, b = _outputs(fp32, xs[:2], tensors), _outputs(int8, xs[:2], tensors)

    def nmse(t: str) -> float:
        if t in graph_in:
            return 0.0
        num = sum(float(np.sum((x[t] - y[t]) ** 2)) for x, y in zip(a, b, strict=True))
        return num / max(sum(float(np.sum(x[t] ** 2)) for x in a), 1e-12)

    return sorted(((name, nmse(o) - nmse(i)) for name, i, o in nodes), key=lambda t: (-t[1], t[0]))


def fit_budget(fp32: Path, int8: Path, es: EvalSet, max_drop: float, batch: int, ops: Sequence[str],
               requantize: Requantize) -> dict[str, Any]:
    """Leave the most sensitive layers in float (1, 2, 4, ... of them) until the Dice drop fits the budget.

    At least one quantized op always stays quantized (a graph with every Conv in float is not INT8); when the
    budget is still missed, "within_budget" is False and the caller decides. `int8` (the graph quantized with
    nothing excluded) is replaced by the last trial.
    """
    usable = len(es.images) // batch * batch
    if usable == 0:
        raise EdgesegError(f"fewer held-out images ({len(es.images)}) than the model batch {batch}")
    xs = [es.images[i:i + batch] for i in range(0, usable, batch)]
    res = measure_dice_drop(fp32, int8, es)
    history = [{"excluded": 0, "drop_pp": res["drop_pp"], "drop_pp_high": res["drop_pp_interval"]["high"]}]
    ranking = layer_sensitivity(fp32, int8, xs, ops)
    excluded: list[str] = []
    k = 1
    with tempfile.TemporaryDirectory() as td:
        trial = Path(td) / "trial.onnx"
        cache = Path(td) / "ranges.json"  # calibrate once; the trials only change which nodes are quantized
        most = len(ranking) - 1
        while not within_budget(res["drop_pp_interval"], max_drop) and len(excluded) < most:
            excluded = [n for n, _ in ranking[:k]]
            requantize(excluded, cache, trial)
            res = measure_dice_drop(fp32, trial, es)
            history.append({"excluded": len(excluded), "drop_pp": res["drop_pp"],
                            "drop_pp_high": res["drop_pp_interval"]["high"]})
            k = min(2 * k, most)
        if excluded:
            trial.replace(int8)
    return {"max_dice_drop_pp": max_drop, "rule": RULE, **res,
            "within_budget": within_budget(res["drop_pp_interval"], max_drop),
            "excluded_nodes": excluded, "history": history,
            "sensitivity": [{"node": n, "added_nmse": s} for n, s in ranking[:10]]}
