"""Backends behind one small runner interface (Polygraphy-style). Heavy backends import lazily."""

from edgeseg.runtime.base import Runner, TensorMeta

__all__ = ["Runner", "TensorMeta"]
