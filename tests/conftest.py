from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

# Two cores in CI: keep torch from oversubscribing when ORT also runs.
torch.set_num_threads(min(2, os.cpu_count() or 1))

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


@pytest.fixture(scope="session")
def shared() -> Path:
    """../shared beside the checkout (paper texts, MODELS.md, data sets; CI always has it). Read in place.

    A clone without it (a user outside this repository's CI) skips the tests that need it, saying so."""
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} absent: this test needs ../shared (paper texts, data sets) beside the checkout")
    return SHARED


@pytest.fixture(scope="session")
def shared_data(shared: Path) -> Path:
    """../shared/data beside the checkout (read in place, never copied)."""
    data = shared / "data"
    if not data.is_dir():
        pytest.skip(f"{data} absent: this test needs the real data sets beside the checkout")
    return data
