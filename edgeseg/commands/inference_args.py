"""The --tile / --resize options shared by `edgeseg predict`, `eval` and `bench` (edgeseg.native)."""

from __future__ import annotations

import argparse

from edgeseg.tiling import BLENDS, TileSpec, parse_tile


def add(p: argparse.ArgumentParser, tile_batch: bool = True) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument("--tile", nargs="?", const=True, default=None, type=parse_tile, metavar="HxW",
                   help="sliding-window inference at the image's native size: tiles of the artifact's input size "
                        "(or HxW, which the network must accept), blended; the default for networks trained "
                        "with --native-crop")
    g.add_argument("--resize", action="store_true",
                   help="resize each image to the network input, run once, upsample the logits to the image's "
                        "size; the default for networks trained on resized whole images")
    p.add_argument("--overlap", type=float, default=0.25, help="with --tile: overlap, fraction of the tile (0.25)")
    p.add_argument("--blend", choices=BLENDS, default="gaussian",
                   help="with --tile: blending of overlapping logits (gaussian, sigma = tile/8; or linear ramps)")
    if tile_batch:
        p.add_argument("--tile-batch", type=int, default=8,
                       help="with --tile: tiles per inference call (artifacts with a dynamic batch)")


def mode(args: argparse.Namespace) -> str | None:
    """'tile', 'resize', or None (follow the training regime)."""
    return "tile" if args.tile is not None else ("resize" if args.resize else None)


def spec(args: argparse.Namespace) -> TileSpec:
    tile = args.tile if isinstance(args.tile, tuple) else None
    return TileSpec(tile=tile, overlap=args.overlap, blend=args.blend, batch=getattr(args, "tile_batch", 8))
