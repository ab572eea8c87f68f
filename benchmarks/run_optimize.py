"""`edgeseg optimize` on the campaign's DSB 2018 checkpoints (edgeseg/study/optimize_dsb.py)."""
from edgeseg.study.optimize_dsb import main

raise SystemExit(main())
