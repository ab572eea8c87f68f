"""How far from the physical limit: roofline profiles and edge-device bounds (edgeseg/study/physical_limit.py)."""
from edgeseg.study.physical_limit import main

raise SystemExit(main())
