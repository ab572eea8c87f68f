"""The README's main job, end to end on the generated default data set.

synth data -> train (briefly) -> export ONNX -> FP16 + INT8 (Q/DQ, calibrated) -> TensorRT-RTX engines
(ahead-of-time, no GPU needed to build) -> benchmark ONNX Runtime and PyTorch on this CPU with Dice of every
artifact -> the claims check for what was measured. Every step goes through the library functions the CLI
commands use; every artifact lands under OUT (the content-addressed cache is OUT/cache).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from edgeseg.artifacts import write_json_atomic


def _say(msg: str) -> None:
    print(f"\n== {msg}", flush=True)


def run_demo(out: str | Path = "demo", model: str = "tinyunet", baselines: tuple[str, ...] = ("unet", "ulite"),
             n: int = 64, size: int = 96, epochs: int = 25, threads: tuple[int, ...] = (1, 2), iters: int = 20,
             seed: int = 0) -> dict[str, Any]:
    """Run the whole pipeline; returns {"train": metrics, "engines": [...], "bench": results doc}."""
    from edgeseg.bench.matrix import MATRIX_PRECISIONS, run_matrix
    from edgeseg.bench.results import format_report
    from edgeseg.calib import make_calib
    from edgeseg.data.synth import make_synthetic
    from edgeseg.models.counting import model_table
    from edgeseg.study.claims import claims_summary, short_table
    from edgeseg.study.speed_targets import judged_ratios
    from edgeseg.train import train

    out = Path(out)
    os.environ.setdefault("EDGESEG_CACHE", str(out / "cache"))
    data = out / "data"
    results = out / "results"

    _say(f"1/6 generated data set: {n} images {size}x{size} (seed {seed}) -> {data}")
    make_synthetic(data, n=n, size=size, seed=seed)

    _say(f"2/6 train {model} for {epochs} epochs on the CPU -> {out / 'run'}")
    metrics = train(out / "run", model=model, data=str(data), size=(size, size), epochs=epochs, batch=4,
                    lr=3e-3, seed=seed)
    ckpt = out / "run" / "best.pt"
    print(f"val Dice {metrics.get('val_dice'):.3f}  test Dice {metrics.get('test_dice'):.3f}  "
          f"test IoU {metrics.get('test_iou'):.3f}")

    _say("3/6 calibration set for INT8 -> calib manifest")
    calib = make_calib(data, n=16, out=out / "calib" / "demo.json", checkpoint=ckpt, seed=seed)

    _say("4/6 TensorRT engines (FP16, INT8) built ahead-of-time with TensorRT-RTX")
    engines = _build_engines(ckpt, calib, size)

    _say(f"5/6 benchmark {model} (trained) and {', '.join(baselines)} (random init, speed only) on this CPU")
    common = dict(backends=("onnxruntime", "pytorch"), precisions=MATRIX_PRECISIONS, threads=threads,
                  size=(size, size), warmup=3, iters=iters, calib=str(calib), device="cpu",
                  command=f"edgeseg demo --out {out}")
    doc = run_matrix([str(ckpt)], data=str(data), split="test", **common)
    # Baselines are timed in the same run (ratios only hold within one run), at the same input, untrained.
    channels = int(metrics["input_shape"][0])
    base = run_matrix([{"name": b, "model": b, "options": {"in_channels": channels}} for b in baselines], **common)
    doc["results"] += base["results"]
    doc["skipped"] += base["skipped"]
    doc["failed"] += base["failed"]
    write_json_atomic(results / "bench-demo.json", doc)
    write_json_atomic(results / "models.json", model_table())
    doc["ratios"], isa_note = judged_ratios(doc)
    print(format_report(doc, ratios=bool(doc["ratios"])) + f"\n{isa_note}")

    _say("6/6 claims check on what this run measured (full report: edgeseg claims)")
    print(short_table(claims_summary(results), only_tested=True))
    print(f"\nresults: {results}/bench-demo.json  engines: {', '.join(str(e) for e in engines) or 'none'}")
    return {"train": metrics, "engines": [str(e) for e in engines], "bench": doc}


def _build_engines(ckpt: Path, calib: Path, size: int) -> list[Path]:
    from edgeseg.errors import MissingDependencyError
    from edgeseg.recipe import EngineSpec, Recipe, materialize

    built: list[Path] = []
    for precision in ("fp16", "int8"):
        try:
            res = materialize(Recipe(str(ckpt), precision, (size, size), calib=str(calib) if precision == "int8"
                                     else None, engine=EngineSpec())).engine
            assert res is not None
        except MissingDependencyError as e:
            print(f"engines skipped: {e}")
            return built
        meta = res.meta
        ccs = ", ".join(meta.get("target_compute_capabilities") or [])
        print(f"{precision}: {res.path} ({'reused' if res.reused else 'built'}; {meta.get('flavour')} "
              f"{meta.get('trt_version')}; compute capabilities {ccs}; "
              f"{res.path.stat().st_size / 1e6:.1f} MB)")
        built.append(res.path)
    print("engines are built, not run: running them needs their GPU (see README, 'What is verified where')")
    return built


