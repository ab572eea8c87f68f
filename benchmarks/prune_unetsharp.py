"""UNet#'s pruning trade-off on a trained run (edgeseg/study/pruned_levels.py)."""
from edgeseg.study.pruned_levels import main

raise SystemExit(main())
