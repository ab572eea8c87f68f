"""Summarise benchmarks/results/train-*.json as TRAINING.md (edgeseg/study/train_real.py)."""
from edgeseg.study.train_real import table_main

raise SystemExit(table_main())
