"""``cgml describe DATASET``: the spread of a reference dataset by split (Rg, relaxation times, MSD)."""
from __future__ import annotations

import json
from pathlib import Path

from ..describe import describe


def add_parser(commands):
    parser = commands.add_parser("describe", help="the spread of a reference dataset (Rg, relaxation times, MSD)")
    parser.add_argument("dataset", help="folder written by cgml reference")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    return parser


def run(args) -> int:
    report = describe(args.dataset)
    for split, part in report["splits"].items():
        print(f"{split}: {len(part['runs'])} runs")
        print(f"  {'run':<24s} {'atoms':>5s} {'ns':>6s} {'Rg nm':>7s} {'tau(Rg2) ps':>12s} {'wall s':>7s}")
        for r in part["runs"]:
            print(f"  {r['name'][:24]:<24s} {r['n_atoms']:5d} {r['length_ps'] / 1000:6.1f} {r['rg_nm']:7.3f} "
                  f"{r['rg2_relaxation_ps']:12.1f} {r['wall_seconds'] or float('nan'):7.1f}")
        rg, tau = part["range"]["rg_nm"], part["range"]["rg2_relaxation_ps"]
        print(f"  range: Rg {rg[0]:.3f}-{rg[1]:.3f} nm, Rg² relaxation {tau[0]:.0f}-{tau[1]:.0f} ps")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    return 0
