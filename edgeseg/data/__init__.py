"""Datasets (folders of images/ + masks/), the generated default, preprocessing and splits."""
