"""The study: campaigns (plan files, runs on Ray or in-process), `edgeseg compare`, the claims check, the speed
targets and the measurements behind the committed results, apart from the toolkit.

`edgeseg.study` imports the toolkit (train, evaluate, optimize, intervals, bench); the toolkit never imports
the study (tests/test_layering.py).

* The campaign: `plan.py` (a TOML plan -> validated `Plan`), `splits.py` (its fixed splits), `job.py` (one run:
  train + per-image test scoring, resumable, atomic results), `execute.py` (the runs as Ray tasks, or one by
  one in-process without Ray), `status.py` (plan/status/summary tables), `campaign_results.py` (its results,
  read back); `claims_campaign.py`: the claims campaign with its historic flags (benchmarks/campaign.py).
* `compare.py`, `compare_bench.py`, `compare_report.py`: `edgeseg compare RESULTS [--device-bench]`.
* `claims/`: the papers' claims checked against the results (`edgeseg claims`); `speed_targets.py`: the speed
  targets per ISA class; `demo.py`: `edgeseg demo`.
* The measurements benchmarks/*.py run (each script there is a one-line entry point; `paths.py` holds their
  paths and the command they record): `cpu_matrix.py`, `speed_interleaved.py`, `timing_ab.py`, `precision.py`,
  `op_profile.py`, `physical_limit.py`, `groupnorm_layout.py`, `native_table.py`, `head_logits.py`,
  `train_real.py` (+ its table), `optimize_dsb.py`, `budget_estimate.py`.
* `plans/`: `claims.toml` (the claims campaign; its results are benchmarks/results/campaign) and
  `papers-budget.toml` (the papers' budgets, for a GPU cluster).
"""
