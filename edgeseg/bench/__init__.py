"""Benchmarks: `bench_runner` (time one runner), `run_config` / `run_config_isolated` (one configuration,
optionally in a fresh subprocess), `run_matrix` (models x backends x precisions x threads x batch), the
edgeseg-bench/1 schema and validator, the table, the target ratios and the plots."""

from edgeseg.bench.config import make_config
from edgeseg.bench.harness import run_config, run_config_isolated
from edgeseg.bench.matrix import run_matrix
from edgeseg.bench.schema import SCHEMA, validate
from edgeseg.bench.speedups import compute_ratios
from edgeseg.bench.timing import bench_runner

__all__ = ["SCHEMA", "bench_runner", "compute_ratios", "make_config", "run_config", "run_config_isolated",
           "run_matrix", "validate"]
