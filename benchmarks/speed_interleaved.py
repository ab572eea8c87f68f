"""The speed ratios the claims decide on, every network in one process (edgeseg/study/speed_interleaved.py)."""
from edgeseg.study.speed_interleaved import main

raise SystemExit(main())
