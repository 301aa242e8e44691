"""The ``cgml`` command.  Each subcommand is a module here with ``add_parser(commands)``, which adds
its parser, and ``run(args) -> int``, which runs it; the library modules hold no argument parsing."""
from __future__ import annotations

import argparse
import importlib
import shlex
import sys

# Subcommands, in the order ``cgml --help`` lists them.
COMMANDS = ("reference", "describe", "train", "export", "forcefield", "compare", "benchmark", "demo")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="cgml", description="Learned coarse-grained integrator for OpenMM")
    commands = parser.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        module = importlib.import_module(f"{__name__}.{name}")
        module.add_parser(commands).set_defaults(run=module.run)
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    args.command_line = "cgml " + shlex.join(argv)  # recorded by the commands that write results
    return int(args.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
