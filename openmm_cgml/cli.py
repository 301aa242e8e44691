"""The ``cgml`` command.  Each subcommand lives in its own module, which adds its parser with
``add_cli(subparsers)`` and sets ``func`` to the function that runs it."""
from __future__ import annotations

import argparse
import importlib
import sys

# Modules that provide a subcommand, in the order ``cgml --help`` lists them.
COMMAND_MODULES = ("reference", "describe", "train", "export", "compare", "demo")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="cgml", description="Learned coarse-grained integrator for OpenMM")
    commands = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(f"openmm_cgml.{name}").add_cli(commands)
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
