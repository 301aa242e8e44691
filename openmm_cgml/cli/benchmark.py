"""``cgml benchmark polymer|peptide``: the fidelity benchmark, every figure next to its MD-vs-MD ceiling.

Choices are made on the validation split (the default); ``--split test`` is for the final run only.
"""
from __future__ import annotations

from pathlib import Path

from .options import add_platform


def add_parser(commands):
    parser = commands.add_parser("benchmark", help="fidelity benchmark: CG against classical replicas, with MD-vs-MD ceilings")
    kinds = parser.add_subparsers(dest="kind", required=True)
    chains = kinds.add_parser("polymer", help="held-out polymer chains with classical replicas (cgml reference polymers --benchmark)")
    _add_common(chains, "bundle", "cgml reference polymers --benchmark", replay_step="20 ps, the polymer models'")
    chains.add_argument("--discard-ps", type=float, default=None,
                        help="equilibration left out of every run (default: chosen from the data, first against second half)")
    chains.add_argument("--processes", type=int, default=2)
    chains.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples over sequences")
    chains.add_argument("--repeats", type=int, default=1,
                        help="CG sides per sequence, each with other random numbers; every CG figure is their mean, "
                             "so models are ranked with less of the CG side's noise (cost: this many times the CG runs)")
    pep = kinds.add_parser("peptide", help="alanine-dipeptide kinetics (cgml reference pdb ... --environment vacuum)")
    _add_common(pep, "bundle (united-atom beads)", "cgml reference pdb", replay_step="1000 ps")
    pep.add_argument("--discard-ps", type=float, default=0.0, help="equilibration left out of every run")
    pep.add_argument("--bootstrap", type=int, default=200, help="bootstrap resamples of replicas")
    pep.add_argument("--segments", type=int, default=1,
                     help="force fields only: cut every classical replica of half A into this many segments and run one "
                          "copy from the start of each, as long as the segment (as much CG time in fewer steps)")
    pep.add_argument("--processes", type=int, default=1, help="force fields only: Systems run side by side")
    return parser


def _add_common(parser, bundle: str, written_by: str, replay_step: str) -> None:
    """The options both benchmarks take."""
    parser.add_argument("--model", required=True,
                        help=f"{bundle}, or a stand-in: 'replay' (the classical frames: a perfect model) or "
                             "'replay:S' (the same frames S times too slowly)")
    parser.add_argument("--data", required=True, help=f"dataset folder written by {written_by}")
    parser.add_argument("--split", default="validation", choices=["validation", "test"],
                        help="validation for every choice; test only for the final figures")
    parser.add_argument("--out", required=True, help="folder for results.json, report.md and plots")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--replay-step-ps", type=float, default=None,
                        help=f"CG step of the stand-ins, and frame interval of a force field's runs (default {replay_step})")
    add_platform(parser)


def run(args) -> int:
    # Imported here: building the parser must not load the compiled plugin (cgml reference, train, ...)
    from ..benchmark import output, peptide, polymer
    if args.kind == "polymer":
        results = polymer.run(args.model, args.data, args.split, args.processes, args.platform, args.seed,
                              args.discard_ps, args.bootstrap, replay_step_ps=args.replay_step_ps,
                              replicas_out=Path(args.out) / "cg_replicas", repeats=args.repeats)
        lines = output.polymer_lines(results["summary"])
    else:
        results = peptide.run(args.model, args.data, args.split, args.platform, args.seed, args.discard_ps, args.bootstrap,
                              args.replay_step_ps, args.segments, args.processes, Path(args.out) / "cg_replicas.npz")
        lines = output.peptide_lines(results["summary"])
    path = output.write(results, lines, args.out, args.command_line)
    output.print_lines(lines)
    print(f"results: {path}")
    return 0
