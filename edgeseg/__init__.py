"""edgeseg: lightweight medical segmentation from PyTorch training to edge deployment, measured honestly."""

__version__ = "0.1.0"
