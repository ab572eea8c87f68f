"""A campaign plan: a TOML file -> a validated `Plan` (every check runs before any training starts).

    name = "claims"
    results = "benchmarks/results/campaign"   # relative paths: against the current directory (made absolute;
                                               # on a multi-node cluster they must be on a shared filesystem)
    runs = "../campaign-runs"                  # checkpoints (last.pt / best.pt), outside the repo
    split_seed = 0
    aliases = { sdunet = "sdunet-ws-layer" }   # a claim's network name -> a variant

    [sets.dsb2018-nuclei-564]                  # one recipe per data set
    shared = "dsb2018-nuclei-564"              # a shared set (../shared/data or $EDGESEG_SHARED_DATA) ...
    # folder = "path/to/images+masks"          # ... or a folder
    kind = "holdout"                           # split rule: "holdout" (n_train, n_val; the rest is test)
    n_train = 70                               #   or "kfold" (folds, n_val: each fold tests 1/folds)
    n_val = 30
    size = [96, 96]                            # resized to the input size, or native crops of it
    epochs = 15
    batch = 4
    lr = 2e-3
    foreground = "auto"
    # augment = true, loss = "bce+dice", native_crop = false, interior = false (score the flipped class too)

    [networks.sdunet-ws-layer]                 # a variant: a registry network with options
    model = "sdunet"
    options = { ws = "layer" }
    seeds = [0, 1, 2]
    sets = ["dsb2018-nuclei-564"]              # default: every set
    recipe = { lr = 1e-4 }                     # per-network override (also epochs_factor = 2)
    # native_crop = true, test_limit = 100, score_levels = [1, 2, 3] (UNet#'s pruned levels)

    [[same_as]]                                # a run that another run already is: not trained twice
    run = ["dsb2018-nuclei-564", "tinyunet-2x", 0, 0]
    is = ["dsb2018-nuclei-564", "tinyunet-e30", 0, 0]

    [[order]]                                  # run priority (runs no entry names follow, in plan order)
    networks = ["unet"]
    sets = ["dsb2018-nuclei-564"]
    seeds = [0]

A bad plan is one line naming the key and the fix (EdgesegError: exit 2).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from edgeseg.errors import EdgesegError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

LOSSES = ("bce+dice",)  # what edgeseg.train implements
RECIPE_TEXT = ("Adam, per-step cosine to 0, BCE + soft Dice (mean over deep-supervision heads), flips/rot90/"
               "brightness-contrast/scale-shift augmentation on the training split, best validation Dice "
               "checkpoint, x/255 normalised (mean 0.5, std 0.5)")
TOP = {"schema", "name", "description", "results", "runs", "split_seed", "aliases", "recipe_text", "sets",
       "networks", "same_as", "order"}
RECIPE = {"size", "epochs", "batch", "lr", "foreground", "augment", "loss", "native_crop"}
SET = {"shared", "folder", "kind", "n_train", "n_val", "folds", "what", "interior"} | RECIPE
NETWORK = {"model", "options", "seeds", "sets", "folds", "recipe", "native_crop", "test_limit", "score_levels"}
OVERRIDE = RECIPE - {"native_crop"} | {"epochs_factor"}


class Job(NamedTuple):
    dataset: str
    variant: str
    fold: int
    seed: int

    def label(self) -> str:
        return f"{self.dataset} {self.variant} f{self.fold} s{self.seed}"


@dataclass
class Plan:
    path: Path
    name: str
    results: Path
    runs: Path
    split_seed: int
    sets: dict[str, dict[str, Any]]
    networks: dict[str, dict[str, Any]]
    aliases: dict[str, str] = field(default_factory=dict)
    same_as: dict[Job, Job] = field(default_factory=dict)
    order: list[dict[str, list[Any]]] = field(default_factory=list)
    recipe_text: str = RECIPE_TEXT
    base: Path = field(default_factory=Path.cwd)  # where relative paths were given (recorded commands use it)

    def shown(self, p: Path) -> str:
        """A path as the recorded commands show it: relative to `base` when inside it."""
        try:
            return p.relative_to(self.base).as_posix()
        except ValueError:
            return str(p)

    def data_dir(self, ds: str) -> Path:
        spec = self.sets[ds]
        return Path(spec["folder"]) if "folder" in spec else shared_root() / spec["shared"]

    def data_arg(self, ds: str) -> str:
        """The --data of the recorded `edgeseg train` command (shared sets as ../shared/data/NAME, as today)."""
        spec = self.sets[ds]
        return str(spec["folder"]) if "folder" in spec else f"../shared/data/{spec['shared']}"

    def folds(self, ds: str) -> int:
        return int(self.sets[ds].get("folds", 1)) if self.sets[ds]["kind"] == "kfold" else 1

    def net_folds(self, variant: str, ds: str) -> list[int]:
        """The folds a network runs on a set: all of them, or the network's `folds` subset (k-fold sets only)."""
        every = range(self.folds(ds))
        return [f for f in self.networks[variant].get("folds", every) if f in every]

    def recipe(self, ds: str, variant: str) -> dict[str, Any]:
        """The set's recipe with the network's overrides (epochs_factor multiplies the set's epochs)."""
        spec = {k: v for k, v in self.sets[ds].items() if k in RECIPE}
        spec.update(self.networks[variant].get("recipe") or {})
        factor = spec.pop("epochs_factor", 1)
        spec["epochs"] = spec["epochs"] * factor
        spec.setdefault("augment", True)
        spec.setdefault("loss", LOSSES[0])
        spec["native_crop"] = bool(self.networks[variant].get("native_crop", spec.get("native_crop", False)))
        return spec

    def all_jobs(self) -> list[Job]:
        """Every run the plan has, in priority order ([[order]] entries first), less the `same_as` ones."""
        declared = [Job(ds, v, f, s) for v, net in self.networks.items() for s in net["seeds"]
                    for ds in net["sets"] for f in self.net_folds(v, ds)]
        known = set(declared)
        out: list[Job] = []
        for block in self.order:
            for seed in block["seeds"]:
                for ds in block["sets"]:
                    for f in range(self.folds(ds)):
                        out += [j for v in block["networks"] if (j := Job(ds, v, f, seed)) in known]
        out += declared
        seen: set[Job] = set()
        return [j for j in out if not (j in seen or seen.add(j)) and j not in self.same_as]  # type: ignore[func-returns-value]

    def jobs(self, sets: list[str] | None = None, variants: list[str] | None = None,
             only: list[str] | None = None) -> list[Job]:
        """all_jobs() filtered by data set, variant and run labels ("SET/VARIANT/fF-sS")."""
        for what, names, known in (("data set", sets, self.sets), ("network", variants, self.networks)):
            bad = [n for n in names or [] if n not in known]
            if bad:
                raise EdgesegError(f"{self.path}: unknown {what} {bad[0]!r}; the plan has {sorted(known)}")
        runs = {tuple(r.split("/")) for r in only or []}
        out = [j for j in self.all_jobs() if (not sets or j.dataset in sets) and (not variants or j.variant in variants)
               and (not runs or (j.dataset, j.variant, f"f{j.fold}-s{j.seed}") in runs)]
        if only and len(out) < len(runs):
            have = {(j.dataset, j.variant, f"f{j.fold}-s{j.seed}") for j in out}
            missing = "/".join(next(r for r in runs if r not in have))
            raise EdgesegError(f"--runs {missing}: not a run of {self.path} (form SET/VARIANT/fF-sS; see "
                               f"`edgeseg campaign plan {self.path}`)")
        return out

    def result_paths(self, job: Job, variant: str | None = None) -> tuple[Path, Path]:
        base = self.results / job.dataset / (variant or job.variant) / f"f{job.fold}-s{job.seed}"
        return base.with_suffix(".csv"), base.with_suffix(".json")

    def run_dir(self, job: Job) -> Path:
        return self.runs / job.dataset / job.variant / f"f{job.fold}-s{job.seed}"

    def done(self, job: Job) -> bool:
        return all(p.is_file() for p in self.result_paths(job))


def shared_root() -> Path:
    env = os.environ.get("EDGESEG_SHARED_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[2].parent / "shared" / "data"


def packaged_plan(name: str) -> Path:
    return Path(__file__).resolve().parent / "plans" / f"{name}.toml"


def _fail(path: Path, key: str, why: str, fix: str) -> EdgesegError:
    return EdgesegError(f"{path}: {key}: {why}; {fix}")


def _check_keys(path: Path, where: str, table: Any, allowed: set[str]) -> dict[str, Any]:
    if not isinstance(table, dict):
        raise _fail(path, where, "must be a table", f"write it as [{where}] or {where} = {{ ... }}")
    for k in table:
        if k not in allowed:
            key = f"{where}.{k}" if where else k
            raise _fail(path, key, "unknown key", f"remove it or use one of {', '.join(sorted(allowed))}")
    return table


def _check_recipe(path: Path, where: str, r: dict[str, Any]) -> None:
    checks = {"epochs": lambda v: isinstance(v, int) and v > 0, "batch": lambda v: isinstance(v, int) and v > 0,
              "lr": lambda v: isinstance(v, (int, float)) and v > 0,
              "epochs_factor": lambda v: isinstance(v, int) and v > 0,
              "size": lambda v: isinstance(v, list) and len(v) == 2 and all(isinstance(x, int) and x > 0 for x in v),
              "augment": lambda v: isinstance(v, bool), "native_crop": lambda v: isinstance(v, bool),
              "loss": lambda v: v in LOSSES, "foreground": lambda v: isinstance(v, str)}
    fixes = {"size": "give [H, W] in pixels", "loss": f"use one of {list(LOSSES)} (what edgeseg train implements)",
             "lr": "give a positive number"}
    for k, v in r.items():
        if k in checks and not checks[k](v):
            raise _fail(path, f"{where}.{k}", f"bad value {v!r}", fixes.get(k, "give a positive integer" if k in
                                                                               ("epochs", "batch", "epochs_factor")
                                                                               else "see edgeseg/study/plan.py"))


def _check_set(path: Path, ds: str, spec: dict[str, Any], base: Path) -> dict[str, Any]:
    w = f"sets.{ds}"
    _check_keys(path, w, spec, SET)
    if ("shared" in spec) == ("folder" in spec):
        raise _fail(path, w, "needs exactly one of shared = NAME or folder = PATH", "name the data set's source")
    if "folder" in spec:
        spec = {**spec, "folder": str(Path(spec["folder"]) if Path(spec["folder"]).is_absolute()
                                       else Path.cwd() / spec["folder"])}
    folder = Path(spec["folder"]) if "folder" in spec else shared_root() / spec["shared"]
    key = f"{w}.{'folder' if 'folder' in spec else 'shared'}"
    if not (folder / "images").is_dir():
        raise _fail(path, key, f"{folder}: no such data folder (images/ + masks/)",
                    "fix the path (make a small set with: edgeseg data synth DIR)")
    for k in ("size", "epochs", "batch", "lr"):
        if k not in spec:
            raise _fail(path, f"{w}.{k}", "missing", "every data set needs size, epochs, batch and lr")
    spec.setdefault("foreground", "auto")
    kind = spec.get("kind")
    need = {"holdout": ("n_train", "n_val"), "kfold": ("folds", "n_val")}
    if kind not in need:
        raise _fail(path, f"{w}.kind", f"bad value {kind!r}", "use \"holdout\" (n_train, n_val) or \"kfold\" "
                                                                 "(folds, n_val)")
    for k in need[kind]:
        if not isinstance(spec.get(k), int) or spec[k] < (2 if k == "folds" else 1):
            raise _fail(path, f"{w}.{k}", f"missing or bad ({spec.get(k)!r})", f"a {kind} split needs an integer "
                                                                               f"{k}")
    _check_recipe(path, w, spec)
    return spec


def _check_network(path: Path, v: str, net: dict[str, Any], sets: dict[str, dict[str, Any]]) -> dict[str, Any]:
    from edgeseg.models.registry import list_models

    w = f"networks.{v}"
    _check_keys(path, w, net, NETWORK)
    model = net.get("model", v)
    if model not in list_models():
        raise _fail(path, f"{w}.model", f"{model!r} is not a registered network",
                    f"use one of {', '.join(list_models())} (edgeseg models)")
    net = {**net, "model": model, "options": net.get("options") or {}}
    _check_keys(path, f"{w}.options", net["options"], set(net["options"]))
    seeds = net.get("seeds")
    if not isinstance(seeds, list) or not seeds or not all(isinstance(s, int) and s >= 0 for s in seeds):
        raise _fail(path, f"{w}.seeds", f"bad value {seeds!r}", "give a list of integer seeds, e.g. [0, 1, 2]")
    net["sets"] = list(net.get("sets") or sets)
    for ds in net["sets"]:
        if ds not in sets:
            raise _fail(path, f"{w}.sets", f"{ds!r} is not a data set of this plan", f"add [sets.{ds}] or use one "
                                                                                     f"of {sorted(sets)}")
    folds = net.get("folds")
    if folds is not None and not (isinstance(folds, list) and folds and all(isinstance(f, int) and f >= 0
                                                                            for f in folds)):
        raise _fail(path, f"{w}.folds", f"bad value {folds!r}", "give a list of fold numbers, e.g. [0]")
    _check_keys(path, f"{w}.recipe", net.get("recipe") or {}, OVERRIDE)
    _check_recipe(path, f"{w}.recipe", net.get("recipe") or {})
    for k in ("test_limit",):
        if k in net and not (isinstance(net[k], int) and net[k] > 0):
            raise _fail(path, f"{w}.{k}", f"bad value {net[k]!r}", "give a positive integer")
    if "score_levels" in net and model != "unetsharp":
        raise _fail(path, f"{w}.score_levels", f"{model} has no pruned levels", "remove it (UNet# only)")
    return net


def _check_fits(plan: Plan) -> None:
    """Every (network, set) recipe the network can take: its input size (resized or crop size)."""
    from edgeseg.models.registry import get_model_info

    for v, net in plan.networks.items():
        for ds in net["sets"]:
            h, w = plan.recipe(ds, v)["size"]
            m = get_model_info(net["model"]).size_multiple
            if h % m or w % m:
                where = f"networks.{v}.recipe.size" if "size" in (net.get("recipe") or {}) else f"sets.{ds}.size"
                raise _fail(plan.path, where, f"{net['model']} cannot take {h}x{w} on {ds} (it downsamples by {m})",
                            f"use multiples of {m} (e.g. {max(m, h // m * m)}x{max(m, w // m * m)}) or override it "
                            f"in networks.{v}.recipe")


def _job(path: Path, where: str, x: Any) -> Job:
    if not (isinstance(x, list) and len(x) == 4 and all(isinstance(a, str) for a in x[:2])
            and all(isinstance(a, int) for a in x[2:])):
        raise _fail(path, where, f"bad value {x!r}", "give [SET, VARIANT, FOLD, SEED]")
    return Job(*x)


def load_plan(path: str | Path, *, results: str | Path | None = None, runs: str | Path | None = None) -> Plan:
    """Read and validate a plan file (CLI --results / --runs override the plan's folders)."""
    path = Path(path)
    if not path.is_file():
        raise EdgesegError(f"{path}: no such plan file; pass a PLAN.toml (shipped: {packaged_plan('claims')})")
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise EdgesegError(f"{path}: not valid TOML ({e}); fix the syntax") from None
    _check_keys(path, "", doc, TOP)
    sets_doc = _check_keys(path, "sets", doc.get("sets") or {}, set(doc.get("sets") or {}))
    if not sets_doc or not doc.get("networks"):
        raise _fail(path, "sets" if not sets_doc else "networks", "empty", "a plan needs [sets.NAME] and "
                                                                           "[networks.NAME] tables")
    sets = {ds: _check_set(path, ds, spec, path.parent) for ds, spec in sets_doc.items()}
    networks = {v: _check_network(path, v, net, sets) for v, net in _check_keys(
        path, "networks", doc["networks"], set(doc["networks"])).items()}
    plan = Plan(path=path, name=str(doc.get("name") or path.stem),
                # absolute: a Ray worker's current directory is not the caller's
                results=Path(os.path.abspath(results or doc.get("results") or f"campaign-{path.stem}")),
                runs=Path(os.path.abspath(runs or doc.get("runs") or f"campaign-{path.stem}-runs")),
                split_seed=int(doc.get("split_seed", 0)), sets=sets, networks=networks,
                aliases=dict(doc.get("aliases") or {}), recipe_text=str(doc.get("recipe_text") or RECIPE_TEXT))
    for i, e in enumerate(doc.get("same_as") or []):
        _check_keys(path, f"same_as[{i}]", e, {"run", "is"})
        plan.same_as[_job(path, f"same_as[{i}].run", e.get("run"))] = _job(path, f"same_as[{i}].is", e.get("is"))
    for i, e in enumerate(doc.get("order") or []):
        _check_keys(path, f"order[{i}]", e, {"networks", "sets", "seeds"})
        for k, known in (("networks", networks), ("sets", sets)):
            bad = [n for n in e.get(k) or [] if n not in known]
            if bad or not e.get(k):
                raise _fail(path, f"order[{i}].{k}", f"unknown or empty ({bad[:1] or e.get(k)})",
                            f"name entries of [{k}]")
        plan.order.append({"networks": e["networks"], "sets": e["sets"], "seeds": list(e.get("seeds") or [0])})
    for a, v in plan.aliases.items():
        if v not in networks:
            raise _fail(path, f"aliases.{a}", f"{v!r} is not a network of this plan", "point it at a [networks] name")
    _check_fits(plan)
    return plan
