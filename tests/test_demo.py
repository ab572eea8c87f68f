"""The README's main command, end to end at a tiny size: every stage must produce its artifact."""

from __future__ import annotations

import json

from edgeseg.bench.schema import check
from edgeseg.study.demo import run_demo


def test_demo_pipeline_end_to_end(tmp_path, capsys):
    out = tmp_path / "demo"
    res = run_demo(out=out, model="tinyunet", baselines=("ulite",), n=24, size=32, epochs=2, threads=(1,),
                   iters=2)
    doc = json.loads((out / "results" / "bench-demo.json").read_text())
    check(doc)  # schema-valid edgeseg-bench/1
    rows = {(r["model"], r["backend"], r["precision"]) for r in doc["results"]}
    for prec in ("fp32", "fp16", "int8"):
        assert ("tinyunet", "onnxruntime", prec) in rows
        assert ("ulite", "onnxruntime", prec) in rows
    assert ("tinyunet", "pytorch", "fp32") in rows
    trained = [r for r in doc["results"] if r["model"] == "tinyunet"]
    assert all(r["dice"] is not None and 0.0 <= r["dice"] <= 1.0 for r in trained)
    assert all(r["dice"] is None for r in doc["results"] if r["model"] == "ulite")  # untrained: no Dice
    # Both engines were really built by TensorRT-RTX (no GPU needed to build), each with its sidecar.
    assert len(res["engines"]) == 2
    for e in res["engines"]:
        side = json.loads(open(e + ".json").read())
        assert side["flavour"] == "tensorrt-rtx" and side["precision"] in ("fp16", "int8")
    printed = capsys.readouterr().out
    assert "ulite-params" in printed and "verdict" in printed  # the short claims table ends the run
