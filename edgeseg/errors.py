"""User-facing errors: one line that names the file and the fix; the CLI turns them into exit code 2."""

from __future__ import annotations


class EdgesegError(Exception):
    """An error caused by input the user can fix. The message is one line: what, where, and the fix."""


class MissingDependencyError(EdgesegError):
    """An optional backend (TensorRT, cuda-python, NVML, matplotlib) is not installed."""
