"""The ``cgml`` command."""
from __future__ import annotations

import argparse
import sys


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="cgml", description="Learned coarse-grained integrator for OpenMM")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="CG steps on alanine dipeptide, then hand-off to classical MD")
    demo.add_argument("--out", default="out/demo", help="folder for the bundle and the final structure")
    demo.add_argument("--cg-steps", type=int, default=200)
    demo.add_argument("--md-steps", type=int, default=500)
    demo.add_argument("--platform", default="CPU", choices=["CPU", "Reference"])
    demo.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    if args.command == "demo":
        from . import demo as demo_module

        demo_module.run(args.out, args.cg_steps, args.md_steps, args.platform, args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
