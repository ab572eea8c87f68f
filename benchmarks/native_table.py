"""Native-size table: Dice tiled vs resized, ms per image, peak memory (edgeseg/study/native_table.py)."""
from edgeseg.study.native_table import main

raise SystemExit(main())
