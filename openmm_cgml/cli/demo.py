"""``cgml demo``: the shipped polymer model against classical MD on a chain it never saw, with a report."""
from __future__ import annotations

from .options import add_platform


def add_parser(commands):
    parser = commands.add_parser("demo", help="the shipped polymer model against classical MD, with a report")
    parser.add_argument("--out", default="out/demo", help="folder for the report and its plots")
    parser.add_argument("--cg-steps", type=int, default=2000, help="CG steps of 20 ps")
    parser.add_argument("--md-steps", type=int, default=250_000, help="classical steps of 0.02 ps")
    add_platform(parser)
    parser.add_argument("--seed", type=int, default=1)
    return parser


def run(args) -> int:
    # Imported here: building the parser must not load the compiled plugin (cgml reference, train, ...)
    from ..demo import run as run_demo
    run_demo(args.out, args.cg_steps, args.md_steps, args.platform, args.seed)
    return 0
