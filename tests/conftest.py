from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

# Two cores in CI: keep torch from oversubscribing when ORT also runs.
torch.set_num_threads(min(2, os.cpu_count() or 1))

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data beside the checkout (read in place, never copied)."""
    if not SHARED_DATA.is_dir():
        pytest.fail(f"{SHARED_DATA} missing: the real data sets must sit beside the checkout")
    return SHARED_DATA
