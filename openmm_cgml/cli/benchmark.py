"""``cgml benchmark polymer|peptide``: the fidelity benchmark, every figure next to its MD-vs-MD ceiling.

Choices are made on the validation split (the default); ``--split test`` is for the final run only.
"""
from __future__ import annotations

from .options import add_platform


def add_parser(commands):
    parser = commands.add_parser("benchmark", help="fidelity benchmark: CG against classical replicas, with MD-vs-MD ceilings")
    kinds = parser.add_subparsers(dest="kind", required=True)
    chains = kinds.add_parser("polymer", help="held-out polymer chains with classical replicas (cgml reference polymers --benchmark)")
    chains.add_argument("--model", required=True,
                        help="bundle, or a stand-in: 'replay' (the classical frames: a perfect model) or "
                             "'replay:S' (the same frames S times too slowly)")
    chains.add_argument("--data", required=True, help="dataset folder written by cgml reference polymers --benchmark")
    chains.add_argument("--split", default="validation", choices=["validation", "test"],
                        help="validation for every choice; test only for the final figures")
    chains.add_argument("--discard-ps", type=float, default=None,
                        help="equilibration left out of every run (default: chosen from the data, first against second half)")
    chains.add_argument("--out", required=True, help="folder for results.json, report.md and plots")
    chains.add_argument("--processes", type=int, default=2)
    chains.add_argument("--seed", type=int, default=1)
    chains.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples over sequences")
    chains.add_argument("--replay-step-ps", type=float, default=None,
                        help="CG step of the stand-ins (default 20 ps, the polymer models')")
    add_platform(chains)
    pep = kinds.add_parser("peptide", help="alanine-dipeptide kinetics (cgml reference pdb ... --environment vacuum)")
    pep.add_argument("--model", required=True, help="bundle (united-atom beads), or a stand-in: 'replay' or 'replay:S'")
    pep.add_argument("--data", required=True, help="dataset folder written by cgml reference pdb")
    pep.add_argument("--split", default="validation", choices=["validation", "test"],
                     help="validation for every choice; test only for the final figures")
    pep.add_argument("--discard-ps", type=float, default=0.0, help="equilibration left out of every run")
    pep.add_argument("--out", required=True, help="folder for results.json, report.md and plots")
    pep.add_argument("--seed", type=int, default=1)
    pep.add_argument("--bootstrap", type=int, default=200, help="bootstrap resamples of replicas")
    pep.add_argument("--replay-step-ps", type=float, default=None,
                     help="CG step of the stand-ins (default 1000 ps)")
    add_platform(pep)
    return parser


def run(args) -> int:
    # Imported here: building the parser must not load the compiled plugin (cgml reference, train, ...)
    from ..benchmark import output, peptide, polymer
    if args.kind == "polymer":
        results = polymer.run(args.model, args.data, args.split, args.processes, args.platform, args.seed,
                              args.discard_ps, args.bootstrap, replay_step_ps=args.replay_step_ps)
        lines = output.polymer_lines(results["summary"])
    else:
        results = peptide.run(args.model, args.data, args.split, args.platform, args.seed, args.discard_ps, args.bootstrap,
                              args.replay_step_ps)
        lines = output.peptide_lines(results["summary"])
    path = output.write(results, lines, args.out, args.command_line)
    output.print_lines(lines)
    print(f"results: {path}")
    return 0
