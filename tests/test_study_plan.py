"""Plan validation (refused before any training, one line naming the key and the fix, exit 2) and the
shipped claims plan, whose results are the committed benchmarks/results/campaign."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgeseg.cli import main
from edgeseg.data.synth import make_synthetic
from edgeseg.study.plan import load_plan, packaged_plan, shared_root
from edgeseg.study.splits import make_splits, plan_doc

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = ROOT / "benchmarks" / "results" / "campaign"
GOOD = """
[sets.synth]
folder = "{data}"
kind = "holdout"
n_train = 6
n_val = 3
size = [{size}, {size}]
epochs = 1
batch = 2
lr = 2e-3
[networks.{net}]
{extra}seeds = [0]
"""


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_synthetic(tmp_path_factory.mktemp("synth") / "d", n=12, size=64, seed=0)


@pytest.mark.parametrize("fmt,key,fix", [
    ({"net": "unett"}, "networks.unett.model", "use one of"),
    ({"data": "/nonexistent/set"}, "sets.synth.folder", "fix the path"),
    ({"net": "ulite", "size": 50}, "sets.synth.size", "multiples of 32"),
    ({"extra": "epoch = 3\n"}, "networks.ulite.epoch", "remove it or use one of"),
    ({"extra": "recipe = { loss = \"focal\" }\n"}, "networks.ulite.recipe.loss", "what edgeseg train implements"),
    ({"extra": "folds = [-1]\n"}, "networks.ulite.folds", "list of fold numbers"),
])
def test_bad_plan_is_refused_before_training(tmp_path: Path, data: Path, capsys, fmt, key, fix) -> None:
    p = tmp_path / "bad.toml"
    p.write_text(GOOD.format(**{"data": data, "size": 64, "net": "ulite", "extra": "", **fmt}))
    assert main(["campaign", "run", str(p), "--results", str(tmp_path / "res"), "--no-ray"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"{key}:" in err and fix in err, err
    assert not (tmp_path / "res").exists()  # nothing written: refused before any run


def test_good_plan_lists_its_runs(tmp_path: Path, data: Path, capsys) -> None:
    p = tmp_path / "ok.toml"
    p.write_text(GOOD.format(data=data, size=64, net="ulite", extra=""))
    assert main(["campaign", "plan", str(p), "--results", str(tmp_path / "res")]) == 0
    assert capsys.readouterr().out.split() == ["synth", "ulite", "f0", "s0", "todo"]


def test_network_folds_subset_runs_only_those_folds(tmp_path: Path, data: Path, capsys) -> None:
    kfold = GOOD.replace('kind = "holdout"\nn_train = 6', 'kind = "kfold"\nfolds = 3')
    p = tmp_path / "ok.toml"
    p.write_text(kfold.format(data=data, size=64, net="ulite", extra="folds = [0, 2]\n"))
    assert main(["campaign", "plan", str(p), "--results", str(tmp_path / "res")]) == 0
    assert [line.split()[2] for line in capsys.readouterr().out.splitlines()] == ["f0", "f2"]


def test_claims_plan_is_the_committed_campaign() -> None:
    """Same plan.json (sets, variants, aliases), same result paths: the committed results are its results."""
    plan = load_plan(packaged_plan("claims"), results=COMMITTED)
    committed = json.loads((COMMITTED / "plan.json").read_text())
    splits = {ds: json.loads((COMMITTED / "splits" / f"{ds}.json").read_text()) for ds in plan.sets}
    doc = json.loads(json.dumps(plan_doc(plan, splits)))
    # plan.json is rewritten when the campaign runs: a variant added since is in the plan file, not yet there
    assert {k: v for k, v in doc.items() if k not in ("variants", "jobs")} == \
        {k: v for k, v in committed.items() if k not in ("variants", "jobs")}
    assert {v: doc["variants"][v] for v in committed["variants"]} == committed["variants"]
    assert doc["jobs"] >= committed["jobs"]
    results = {p.relative_to(COMMITTED).with_suffix("").as_posix() for p in COMMITTED.glob("*/*/f*-s*.json")}
    done = {f"{j.dataset}/{j.variant}/f{j.fold}-s{j.seed}" for j in plan.all_jobs() if plan.done(j)}
    levels = {r for r in results if "/unetsharp-l" in r}
    assert len(done) > 80 and done == results - levels  # UNet#'s pruned levels are scored from its runs


@pytest.mark.skipif(not (shared_root() / "isbi2012-em").is_dir(), reason="../shared/data is absent")
def test_claims_plan_makes_the_committed_splits() -> None:
    plan = load_plan(packaged_plan("claims"), results=COMMITTED)
    for ds in plan.sets:
        assert make_splits(plan, ds) == json.loads((COMMITTED / "splits" / f"{ds}.json").read_text()), ds


@pytest.mark.skipif(not (shared_root() / "isbi2012-em").is_dir(), reason="../shared/data is absent")
def test_papers_budget_plan_is_valid() -> None:
    plan = load_plan(packaged_plan("papers-budget"))
    assert plan.recipe("isbi2012-em", "sdunet")["lr"] == 1e-4 and plan.jobs()
