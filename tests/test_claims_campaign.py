"""Campaign loader and the trained-accuracy verdicts on a small synthetic campaign folder (made in tmp_path).

The folder follows the campaign schema (splits, plan.json, per-run CSV + JSON); the scores are chosen so the
right verdict is known. This tests the report logic, not any training code.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from edgeseg.cli import main
from edgeseg.study.campaign_results import load_campaign
from edgeseg.study.claims import INCONCLUSIVE, check_claims
from edgeseg.study.claims.document import build_report
from edgeseg.study.claims.verdicts import FAILS, HOLDS, PART, PENDING

FIXTURE = Path(__file__).parent / "fixtures" / "claims_results"
# variant -> (offset to the per-image base score, seeds)
OFFSETS = {"unet": (0.0, 3), "tinyunet": (0.05, 3), "ulite": (-0.05, 3), "sdunet-ws-layer": (0.0, 3),
           "sdunet-ws-channel": (-0.3, 3), "sdunet-ws-none": (-0.1, 3), "gpunet": (0.02, 1),
           "ghostunet": (0.04, 1), "unetsharp": (0.01, 1), "unetsharp-l1": (-0.05, 1), "unetsharp-l2": (0.0, 1),
           "unetsharp-l3": (0.005, 1)}


def _write_run(root: Path, ds: str, variant: str, fold: int, seed: int, rows: list[dict], finished: bool = True):
    d = root / ds / variant
    d.mkdir(parents=True, exist_ok=True)
    with (d / f"f{fold}-s{seed}.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    if finished:
        (d / f"f{fold}-s{seed}.json").write_text(json.dumps(
            {"schema": "edgeseg-campaign-run/1", "dataset": ds, "variant": variant, "fold": fold, "seed": seed,
             "test_dice": float(np.mean([r["dice"] for r in rows])), "n_test": len(rows), "resumes": 0}))


def make_campaign(root: Path) -> Path:
    """DSB (holdout, 40 test images) and ISBI (3 folds x 10) finished; Kvasir planned but not run."""
    rng = np.random.default_rng(0)
    splits = {"dsb2018-nuclei-564": [[f"d{i:02d}" for i in range(40)]],
              "isbi2012-em": [[f"i{f}{i}" for i in range(10)] for f in range(3)]}
    (root / "splits").mkdir(parents=True)
    for ds, folds in splits.items():
        if len(folds) > 1:  # k-fold as the campaign writes it: a summary file plus one file per fold
            (root / "splits" / f"{ds}.json").write_text(json.dumps(
                {"schema": "edgeseg-campaign-split/1", "dataset": ds, "kind": "kfold", "folds": len(folds)}))
            for k, t in enumerate(folds):
                (root / "splits" / f"{ds}-f{k}.json").write_text(json.dumps(
                    {"dataset": ds, "fold": k, "train": [], "val": [], "test": t}))
        else:
            (root / "splits" / f"{ds}.json").write_text(json.dumps(
                {"schema": "edgeseg-campaign-split/1", "dataset": ds, "kind": "holdout",
                 "folds": [{"fold": 0, "train": [], "val": [], "test": folds[0]}]}))
        base = {s: float(rng.uniform(0.5, 0.8)) for t in folds for s in t}
        for variant, (off, n_seeds) in OFFSETS.items():
            for k, test in enumerate(folds):
                for seed in range(n_seeds):
                    rows = []
                    for s in test:
                        v = base[s] + off + rng.normal(0, 0.01)
                        row = {"stem": s, "dice": v, "iou": v / (2 - v)}
                        if ds.startswith("isbi"):
                            row |= {"dice_interior": v + 0.2, "iou_interior": (v + 0.2) / (1.8 - v)}
                        rows.append(row)
                    _write_run(root, ds, variant, k, seed, rows)
    sets = ["dsb2018-nuclei-564", "isbi2012-em", "kvasir-seg-900"]
    pruned = ["unetsharp-l1", "unetsharp-l2", "unetsharp-l3"]
    variants = {v: {"model": v.split("-ws-")[0], "seeds": list(range(n)), "sets": sets}
                for v, (_, n) in OFFSETS.items() if v not in pruned}
    variants["sdunet-bn"] = {"model": "sdunet", "seeds": [0, 1, 2], "sets": ["dsb2018-nuclei-564"]}
    (root / "plan.json").write_text(json.dumps({
        "schema": "edgeseg-campaign-plan/1", "aliases": {"sdunet": "sdunet-ws-layer"}, "jobs": 0,
        "variants": variants, "pruned_levels": pruned,
        "sets": {"dsb2018-nuclei-564": {"size": [96, 96], "epochs": 15, "batch": 4, "lr": 0.002, "n_train": 200,
                                        "n_val": 24, "n_test": 40, "folds": 1},
                 "isbi2012-em": {"size": [128, 128], "epochs": 30, "batch": 4, "lr": 0.002, "folds": 3},
                 "kvasir-seg-900": {"size": [96, 96], "epochs": 15, "n_test": 500}}}))
    # Partial-campaign debris: a CSV whose run never finished (no JSON) and a JSON whose CSV is missing.
    _write_run(root, "kvasir-seg-900", "unet", 0, 0, [{"stem": "k0", "dice": 0.5, "iou": 0.3}], finished=False)
    (root / "kvasir-seg-900" / "tinyunet").mkdir(parents=True)
    (root / "kvasir-seg-900" / "tinyunet" / "f0-s0.json").write_text("{}")
    return root


def test_loader_reads_partial_campaign(tmp_path):
    camp = load_campaign(make_campaign(tmp_path / "campaign"))
    assert camp.resolve("sdunet") == "sdunet-ws-layer" and camp.resolve("unetsharp-l4") == "unetsharp"
    assert camp.match(["dsb", "kvasir"]) == ["dsb2018-nuclei-564", "kvasir-seg-900"]
    assert camp.seeds("isbi2012-em", "sdunet") == [0, 1, 2] and camp.seeds("isbi2012-em", "gpunet") == [0]
    per = camp.per_image("isbi2012-em", "unet", "dice")
    assert len(per) == 30 and all(len(v) == 3 for v in per.values())  # k-fold: every image once per seed
    assert not camp.variant_runs("kvasir-seg-900", "unet")             # unfinished run is not counted
    assert any("tinyunet/f0-s0.json" in p and "run skipped" in why for p, why in camp.problems)
    assert camp.n_test("isbi2012-em") == 30
    assert load_campaign(tmp_path / "nope").runs == []


def test_isbi_is_decided_on_skill_over_the_trivial_predictor(tmp_path):
    results = tmp_path / "results"
    shutil.copytree(FIXTURE, results)
    make_campaign(results / "campaign")
    (results / "campaign-trivial").mkdir()
    stems = [f"i{f}{i}" for f in range(3) for i in range(10)]
    (results / "campaign-trivial" / "isbi2012-em.csv").write_text(
        "stem,dice,iou,dice_interior,iou_interior\n" + "".join(f"{s},0,0,0.6,0.45\n" for s in stems))
    camp = load_campaign(results / "campaign")
    raw, skill = (camp.per_image("isbi2012-em", "unet", m) for m in ("dice_interior", "dice_interior_skill"))
    assert all(skill[s][k] == pytest.approx((raw[s][k] - 0.6) / 0.4) for s in raw for k in raw[s])
    row = {r.id: r for r in check_claims(results)}["sdunet-accuracy-isbi"]
    assert "isbi2012-em: dice_interior_skill" in row.ci and "trivial no-membrane predictor 0.600 dice_interior" \
        in row.ours, (row.ci, row.ours)
    assert any("shown beside, not deciding: dice_interior " in d for d in row.details)


def test_accuracy_verdicts_on_synthetic_campaign(tmp_path):
    results = tmp_path / "results"
    shutil.copytree(FIXTURE, results)
    make_campaign(results / "campaign")
    rows = {r.id: r for r in check_claims(results)}
    ws = rows["sdunet-ws-gn-recovers"]
    assert ws.verdict == HOLDS, ws.why          # +0.1 over no WS, equal to U-Net, 3 seeds, both sets
    assert "isbi2012-em: dice_interior" in ws.ci and "n=30 images" in ws.ci
    assert rows["sdunet-accuracy-isbi"].verdict == HOLDS
    assert any("shown beside, not deciding: dice " in d for d in rows["sdunet-accuracy-isbi"].details)
    ulite = rows["ulite-keeps-accuracy"]
    assert ulite.verdict == FAILS and f"{PENDING} on kvasir-seg-900" in ulite.why  # -0.05 on both finished sets
    gp = rows["gpunet-accuracy"]
    # one seed of GPU-Net: its interval is above 0 (+0.02), but the seed cap works both ways -> inconclusive
    assert gp.verdict == INCONCLUSIVE and "fewer than 3 learned seeds (gpunet 1 of 1)" in gp.why, gp.why
    assert "n=40 images, learned seeds gpunet 1/1, unet 3/3" in gp.ci
    # ranked among the paper's own comparators that we implement (U-Net, U-Lite), not among all 7 networks;
    # rank 1 on both sets, capped: the paper's sets and 8 of its baselines are missing
    rank = rows["tinyunet-accuracy-rank"]
    assert rank.verdict == PART and "isbi2012-em: #1 of 3" in rank.ours, rank.why
    pruning = rows["unetsharp-pruning-accuracy"]
    assert pruning.verdict == INCONCLUSIVE and "iou" in pruning.ours
    bn = rows["sdunet-gn-vs-bn"]   # no sdunet-bn runs at all: inconclusive, never "holds"
    assert bn.verdict == INCONCLUSIVE and PENDING in bn.why
    assert "isbi" not in bn.why  # sdunet-bn is planned on DSB only: ISBI is out of the test, not "pending"


def test_report_with_campaign_has_budget_ci_and_ablation(tmp_path):
    results = tmp_path / "results"
    shutil.copytree(FIXTURE, results)
    make_campaign(results / "campaign")
    out = tmp_path / "CLAIMS.md"
    build_report(results, out)
    text = out.read_text()
    assert "| dsb2018-nuclei-564 | 200 / 24 / 40 | 1 | 96x96 | 15 | 4 | 0.002 | 3: sdunet-bn, " in text
    assert "1: ghostunet, gpunet, unetsharp | 21 of 24 |" in text  # sdunet-bn planned, not run
    assert "| kvasir-seg-900 |" in text and "What a GPU budget would change" in text
    assert "## SD-UNet: weight-standardization ablation" in text
    assert "| isbi2012-em | sdunet-ws-none | 3 | 30 |" in text
    assert "| `gpunet-accuracy` | " in text and "n=40 images" in text
    assert "## Summary" in text and "## Rules" in text and "## Training reliability" in text
    assert "| trained accuracy |" in text  # headline split by evidence kind


def test_plots_with_campaign(tmp_path):
    results = tmp_path / "results"
    shutil.copytree(FIXTURE, results)
    make_campaign(results / "campaign")
    assert main(["claims", "--results", str(results), "--out", str(tmp_path / "c.md"),
                 "--plots", str(tmp_path / "plots")]) == 0
    assert (tmp_path / "plots" / "dice_vs_params.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _rewrite(root: Path, variant: str, offset: float, epochs: int, curve: list[float], seeds: int) -> None:
    """Runs of `variant` on DSB: SD-UNet's per-image scores plus `offset`, with a recorded validation curve."""
    ref = {r["stem"]: float(r["dice"]) for r in csv.DictReader(
        (root / "dsb2018-nuclei-564" / "sdunet-ws-layer" / "f0-s0.csv").open())}
    for seed in range(seeds):
        rows = [{"stem": s, "dice": v + offset, "iou": (v + offset) / (2 - v - offset)} for s, v in ref.items()]
        _write_run(root, "dsb2018-nuclei-564", variant, 0, seed, rows)
        path = root / "dsb2018-nuclei-564" / variant / f"f0-s{seed}.json"
        doc = json.loads(path.read_text())
        doc |= {"recipe": {"epochs": epochs}, "best_epoch": epochs, "val_dice_per_epoch": curve}
        path.write_text(json.dumps(doc))


def test_sdunet_vs_tinyunet_gap_is_explained_from_the_curves(tmp_path):
    from edgeseg.study.claims.report_tables import convergence_lines

    root = make_campaign(tmp_path / "campaign")
    slow = [0.0, 0.0, 0.01, 0.3] + [0.6] * 11
    _rewrite(root, "tinyunet", -0.12, 15, slow, 3)
    text = "\n".join(convergence_lines(load_campaign(root)))
    assert "SD-UNet is 0.120 above TinyU-Net" in text
    assert "its best validation epoch is its last in 3 of 3 seed(s)" in text
    assert "in 3 of 3 seed(s) its validation Dice stays below 0.05 for its first 3 epoch(s)" in text
    assert "`tinyunet-e30`) is " + PENDING in text

    _rewrite(root, "tinyunet-e30", -0.02, 30, slow + [0.7] * 15, 1)
    text = "\n".join(convergence_lines(load_campaign(root)))
    assert "| tinyunet-e30 | 30 | 1 |" in text
    assert "difference to the same 15-epoch SD-UNet is -0.020 [" in text
    assert "within the limit: the gap is the epoch budget" in text

    _rewrite(root, "tinyunet", 0.0, 15, slow, 3)  # within 0.05: nothing to explain
    assert "the check passes" in "\n".join(convergence_lines(load_campaign(root)))


def test_gap_with_a_collapsed_sdunet_seed_is_explained_on_the_seeds_that_learned(tmp_path):
    from edgeseg.study.claims.report_tables import convergence_lines

    root = make_campaign(tmp_path / "campaign")
    _rewrite(root, "tinyunet", -0.12, 15, [0.0, 0.0, 0.01, 0.3] + [0.6] * 11, 3)
    dead = root / "dsb2018-nuclei-564" / "sdunet-ws-layer" / "f0-s2"
    with dead.with_suffix(".csv").open() as fh:
        rows = [{"stem": r["stem"], "dice": 0.0, "iou": 0.0} for r in csv.DictReader(fh)]
    _write_run(root, "dsb2018-nuclei-564", "sdunet-ws-layer", 0, 2, rows)
    doc = json.loads(dead.with_suffix(".json").read_text()) | {"val_dice": 0.0}
    dead.with_suffix(".json").write_text(json.dumps(doc))
    (root / "head-logits.json").write_text(json.dumps({"runs": [
        {"dataset": "dsb2018-nuclei-564", "variant": "sdunet-ws-layer", "fold": 0, "seed": 2, "max_logit": -0.43,
         "head_bias": -0.43, "dead_head_input_share": 0.0, "head_input_channels": 2}]}))
    text = "\n".join(convergence_lines(load_campaign(root)))
    assert "SD-UNet never learned on 1 of 3 seeds here: seed 2" in text
    assert "largest logit is -0.43 against a head bias of -0.43" in text
    # With the zero seed TinyU-Net is above SD-UNet; on the seeds that learned SD-UNet is 0.12 above it.
    with_all = float(text.split("With every seed TinyU-Net - SD-UNet is ")[1].split(" ")[0])
    assert with_all > 0.1
    assert "SD-UNet is 0.120 above TinyU-Net" in text


def test_runs_that_never_learned_are_named(tmp_path):
    from edgeseg.study.claims.report_tables import runs_lines

    root = make_campaign(tmp_path / "campaign")
    path = root / "dsb2018-nuclei-564" / "ulite" / "f0-s1.json"
    path.write_text(json.dumps(json.loads(path.read_text()) | {"val_dice": 0.0}))
    with path.with_suffix(".csv").open() as fh:  # no foreground predicted on any image: pooled Dice 0
        zero = [{"stem": r["stem"], "dice": 0.0, "iou": 0.0} for r in csv.DictReader(fh)]
    _write_run(root, "dsb2018-nuclei-564", "ulite", 0, 1, zero)
    path.write_text(json.dumps(json.loads(path.read_text()) | {"val_dice": 0.0}))
    text = "\n".join(runs_lines(load_campaign(root)))
    assert "never learned" in text and "dsb2018-nuclei-564 ulite fold 0 seed 1." in text
    assert "| dsb2018-nuclei-564 | ulite | 0, 1, 2 | 0, 1, 2 | 3 (0) | 40 | ?, 0.000, ? |" in text
    assert "| isbi2012-em | ulite | 0, 1, 2 | 0, 1, 2 | 9 (0, 1, 2) | 30 |" in text
    results = tmp_path / "results"
    shutil.copytree(FIXTURE, results)
    shutil.copytree(root, results / "campaign")
    row = {r.id: r for r in check_claims(results)}["ulite-keeps-accuracy"]
    assert "fewer than 3 learned seeds (ulite 2 of 3)" in row.why and "ulite learned in 2 of 3 runs" in row.why


def test_runs_that_never_learned_are_left_out_and_cap_the_set(tmp_path):
    """A collapsed seed (Dice 0 on every image) enters no interval: the DSB interval is over the two seeds that
    learned (U-Lite's -0.05 offset), and with 2 learned seeds the set cannot decide (inconclusive)."""
    results = tmp_path / "results"
    shutil.copytree(FIXTURE, results)
    root = make_campaign(results / "campaign")
    run = root / "dsb2018-nuclei-564" / "ulite" / "f0-s1"
    with run.with_suffix(".csv").open() as fh:
        rows = [{"stem": r["stem"], "dice": 0.0, "iou": 0.0} for r in csv.DictReader(fh)]
    _write_run(root, "dsb2018-nuclei-564", "ulite", 0, 1, rows)
    row = {r.id: r for r in check_claims(results)}["ulite-keeps-accuracy"]
    dsb = next(c for c in row.ci.split("; ") if c.startswith("dsb2018"))
    assert "learned seeds ulite 2/3" in dsb
    assert -0.07 < float(dsb.split("ulite - unet ")[1].split(" ")[0]) < -0.03
    assert "dsb2018-nuclei-564: inconclusive at this budget" in row.why


def test_one_isbi_metric_decides_every_claim(tmp_path):
    """ISBI verdicts rest on the interior score for every claim: U-Lite is 0.05 below U-Net on the membrane but
    equal on the interiors, so 'keeps accuracy' holds on ISBI while it fails on DSB (membrane-free)."""
    results = tmp_path / "results"
    shutil.copytree(FIXTURE, results)
    camp = make_campaign(results / "campaign")
    for f in sorted((camp / "isbi2012-em" / "ulite").glob("*.csv")):
        with f.open() as fh:
            rows = [{k: v if k == "stem" else float(v) for k, v in r.items()} for r in csv.DictReader(fh)]
        for r in rows:
            r["dice_interior"] = r["dice"] + 0.25  # = U-Net's interior (base + 0.2) on the same image
            r["iou_interior"] = r["dice_interior"] / (2 - r["dice_interior"])
        _write_run(camp.parent / "campaign", "isbi2012-em", "ulite", int(f.stem[1]), int(f.stem[-1]), rows)
    rows = {r.id: r for r in check_claims(results)}
    for cid in ("ulite-keeps-accuracy", "tinyunet-lightweight-suboptimal", "tinyunet-lightweight-lower"):
        isbi = [d for d in rows[cid].details if d.startswith("isbi2012-em: dice")]
        assert isbi and isbi[0].startswith("isbi2012-em: dice_interior"), (cid, rows[cid].details)
    keeps = rows["ulite-keeps-accuracy"]
    assert "isbi2012-em: holds" in keeps.why and "dsb2018-nuclei-564: does not hold" in keeps.why, keeps.why
    assert keeps.verdict == PART and keeps.sets.startswith("holds on 1 of 3 sets")
    beside = "isbi2012-em: shown beside, not deciding: dice ulite - unet = -0.05"
    assert any(d.startswith(beside) for d in keeps.details), keeps.details


def test_reasons_name_each_set_its_seeds_and_the_ws_premise(tmp_path):
    results = tmp_path / "results"
    shutil.copytree(FIXTURE, results)
    make_campaign(results / "campaign")
    rows = {r.id: r for r in check_claims(results)}
    gp = rows["gpunet-beats-ghost"]   # GPU-Net 0.02 below Ghost U-Net, one seed each: the cap works both ways
    assert "dsb2018-nuclei-564: inconclusive at this budget (interval below +0.000" in gp.why, gp.why
    assert "fewer than 3 learned seeds (gpunet 1 of 1, ghostunet 1 of 1)" in gp.why
    assert gp.verdict == INCONCLUSIVE and "at best holds in part" not in gp.why
    ws = rows["sdunet-ws-gn-recovers"]            # no WS is 0.1 below U-Net: the drop WS recovers exists
    assert "premise: there is a drop to recover" in ws.why, ws.why


def test_a_set_with_folds_pending_caps_the_verdict(tmp_path):
    """ISBI with U-Lite's fold 2 missing: the verdicts rest on 20 of 30 images, and the reason says so."""
    results = tmp_path / "results"
    shutil.copytree(FIXTURE, results)
    root = make_campaign(results / "campaign")
    for seed in range(3):
        (root / "isbi2012-em" / "tinyunet" / f"f2-s{seed}.json").unlink()
    row = {r.id: r for r in check_claims(results)}["tinyunet-lightweight-suboptimal"]  # +0.10 over U-Lite
    assert "isbi2012-em: inconclusive at this budget (interval above +0.000; 20 of 30 test images (runs " \
        "pending))" in row.why, row.why
    assert "isbi2012-em: dice_interior tinyunet - ulite +0.1" in row.ci and "n=20 images" in row.ci
