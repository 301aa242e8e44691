"""Options several commands share, spelled and checked the same way everywhere."""
from __future__ import annotations

import argparse

from .. import platforms


def add_platform(parser: argparse.ArgumentParser) -> None:
    """``--platform``: an OpenMM platform this installation has; default CUDA when present, else CPU."""
    parser.add_argument("--platform", default=platforms.default(), choices=platforms.available(),
                        help="OpenMM platform (default: %(default)s)")
