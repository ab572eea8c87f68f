"""`edgeseg` command line: thin wrappers over library functions.

Each module in `edgeseg.commands` defines `register(subparsers)`, adding its sub-command(s) with
`set_defaults(func=...)`; `func(args) -> int` does the work by calling the library.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import NoReturn

from edgeseg import __version__
from edgeseg.data.images import DEFAULT_MAX_PIXELS, MAX_PIXELS_ENV
from edgeseg.errors import EdgesegError

# Order = order in --help.
COMMAND_MODULES = [
    "models",     # edgeseg models
    "data",       # edgeseg data synth
    "train",      # edgeseg train
    "evaluate",   # edgeseg eval, edgeseg predict
    "export",     # edgeseg export
    "calib",      # edgeseg calib make|show
    "quantize",   # edgeseg quantize
    "engine",     # edgeseg build-engine
    "optimize",   # edgeseg optimize
    "profile",    # edgeseg profile (roofline)
    "bench",      # edgeseg bench, edgeseg plot
    "claims",     # edgeseg claims
    "doctor",     # edgeseg doctor --gpu (the prepared first GPU run)
    "campaign",   # edgeseg campaign plan|run|status|summary (edgeseg.study)
    "compare",    # edgeseg compare (edgeseg.study)
    "demo",       # edgeseg demo (the README's main command)
]


class _Parser(argparse.ArgumentParser):
    """argparse with the house error format: one line naming the option and where the fix is, exit code 2.

    (argparse's own prints the whole usage block first; sub-parsers inherit this class.)"""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="edgeseg", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"edgeseg {__version__}")
    parser.add_argument("--max-pixels", type=int, metavar="N",
                        help=f"refuse an image file that declares more than N pixels, checked from its header "
                             f"before decoding (default {DEFAULT_MAX_PIXELS:,}, e.g. a 20000x20000 slide region; "
                             f"env {MAX_PIXELS_ENV})")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"edgeseg.commands.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.max_pixels is not None:
        if args.max_pixels < 1:
            parser.error(f"argument --max-pixels: expected a positive number of pixels, got {args.max_pixels}")
        os.environ[MAX_PIXELS_ENV] = str(args.max_pixels)  # worker processes inherit it
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except EdgesegError as e:
        print(f"edgeseg: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("edgeseg: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # a full disk outside atomic_path (a library's own temporary folder): still one line
        from edgeseg.storage import disk_full_error, is_disk_full

        if not is_disk_full(e):
            raise
        print(f"edgeseg: error: {disk_full_error(getattr(e, 'filename', None) or '.', e)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
