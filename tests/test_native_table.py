"""The native-size table (edgeseg.study.native_table, benchmarks/native_table.py) on a tiny synthetic set: both
training regimes labelled, missing runs reported as not yet measured, Dice for both inference modes, and the
memory bound measured (values are not timed here)."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from edgeseg.checkpoint import save_checkpoint
from edgeseg.data.preprocess import Preprocess
from edgeseg.data.synth import make_synthetic
from edgeseg.models import create_model
from edgeseg.study import native_table as nt


def test_native_table_labels_regimes_and_reports_missing_runs(tmp_path: Path) -> None:
    data = make_synthetic(tmp_path / "shared" / "synth", n=4, size=80, seed=2)
    stems = sorted(p.stem for p in (data / "images").iterdir())
    (tmp_path / "split.json").write_text(json.dumps({"folds": [{"fold": 0, "train": [], "val": [], "test": stems}]}))
    runs = tmp_path / "runs" / "synth" / "unet-native" / "f0-s0"
    runs.mkdir(parents=True)
    torch.manual_seed(0)
    save_checkpoint(runs / "best.pt", create_model("unet", 1, 1, base=4),
                    preprocess=Preprocess(32, 32, 1, native_scale=True).to_dict())
    torch.manual_seed(0)
    save_checkpoint(tmp_path / "resized.pt", create_model("unet", 1, 1, base=4),
                    preprocess=Preprocess(32, 32, 1).to_dict())
    rc = nt.main(["--dataset", "synth", "--models", "unet", "ulite", "--runs", str(tmp_path / "runs"),
                  "--checkpoint", f"unet={tmp_path / 'resized.pt'}", "--shared", str(tmp_path / "shared"),
                  "--split-file", str(tmp_path / "split.json"), "--limit", "2", "--threads", "1",
                  "--cache", str(tmp_path / "cache"), "--out-dir", str(tmp_path / "out")])
    assert rc == 0
    doc = json.loads((tmp_path / "out" / "native-synth.json").read_text())
    rows = {r["variant"]: r for r in doc["rows"]}
    assert set(rows) == {"unet", "unet-native", "ulite", "ulite-native"}
    assert rows["ulite"]["status"].startswith("not yet measured")
    res, nat = rows["unet"], rows["unet-native"]
    assert res["training_regime"] == "whole images resized to 32x32" and res["scale_vs_training"] == 2.5
    assert nat["training_regime"] == "native-scale 32x32 crops" and nat["scale_vs_training"] == 1.0
    for r in (res, nat):
        assert r["n_images"] == 2 and 0 <= r["dice_tile"] <= 1 and 0 <= r["dice_resize"] <= 1
        assert r["dice_tile_minus_resize"] == r["dice_tile"] - r["dice_resize"]
        assert r["peak_rss_image_mb"] > 0 and r["rss_bound_mb"] > r["peak_rss_tile_batch_mb"]
        assert r["largest_image"]["shape"] == [80, 80]
    md = (tmp_path / "out" / "native-synth.md").read_text()
    assert "Command: `python benchmarks/native_table.py --dataset synth --models unet ulite" in md
    assert "Machine:" in md and "scale mismatch" in md
    assert "| U-Net (unet) | whole images resized to 32x32 | 2.5x |" in md and "not yet measured" in md
