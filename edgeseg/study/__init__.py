"""The study: campaigns (plan files, runs on Ray or in-process) and `edgeseg compare`, apart from the toolkit.

`edgeseg.study` imports the toolkit (train, evaluate, optimize, intervals, the claims' campaign reader); the
toolkit never imports the study (tests/test_layering.py).

* `plan.py`: a campaign plan (TOML) -> validated `Plan`; `splits.py`: its fixed splits; `job.py`: one run
  (train + per-image test scoring, resumable, atomic results); `execute.py`: the runs as Ray tasks (or one by
  one in-process without Ray); `status.py`: plan/status/summary tables.
* `compare.py`, `compare_bench.py`, `compare_report.py`: `edgeseg compare RESULTS [--device-bench]`.
* `plans/`: `claims.toml` (the claims campaign; its results are benchmarks/results/campaign) and
  `papers-budget.toml` (the papers' budgets, for a GPU cluster).
"""
