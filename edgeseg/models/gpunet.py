"""Placeholder: implemented in issue 2."""
