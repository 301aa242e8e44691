"""``cgml compare``: the CG integrator against classical MD (or a stored trajectory) on a peptide, with a report;
``--forcefield`` adds a learned CG force field as a third side."""
from __future__ import annotations

from pathlib import Path

from ..systems.peptides import ENVIRONMENTS
from .options import add_platform


def add_parser(commands):
    parser = commands.add_parser("compare", help="CG integrator vs classical MD (or a stored trajectory): report with plots")
    parser.add_argument("--pdb", default=None, help="PDB to prepare with pdbfixer/amber14 (default: shipped alanine dipeptide)")
    parser.add_argument("--environment", default="gbn2", choices=sorted(ENVIRONMENTS),
                        help="how the peptide is simulated: the one the bundle's training data were made in (default gbn2)")
    parser.add_argument("--bundle", default=None, help="propagator bundle (default: the BondedDiffusion stand-in)")
    parser.add_argument("--mapping", default=None,
                        help="BeadMapping JSON (default: the bundle's own; one bead per residue for the stand-in)")
    parser.add_argument("--forcefield", default=None,
                        help="CG force field (cgml forcefield train/export) to run as a third side, as long as the CG run")
    parser.add_argument("--reference", default=None, help="stored classical trajectory (mdtraj-readable) to compare against")
    parser.add_argument("--reference-interval-ps", type=float, default=None, help="ps between reference frames")
    parser.add_argument("--out", default="out/compare", help="folder for report.md, report.json and the plots")
    parser.add_argument("--cg-steps", type=int, default=100)
    parser.add_argument("--md-steps", type=int, default=None, help="default: the CG run's simulated time")
    parser.add_argument("--md-timestep-ps", type=float, default=None, help="default: the prepared system's (0.002)")
    parser.add_argument("--temperature-k", type=float, default=None, help="default: the prepared system's (300)")
    parser.add_argument("--friction-per-ps", type=float, default=None, help="default: the prepared system's (1)")
    add_platform(parser)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--handoff-steps", type=int, default=500, help="classical steps after the hand-off")
    parser.add_argument("--bins", type=int, default=50)
    parser.add_argument("--collision-percentile", type=float, default=0.0,
                        help="percentile of the classical side's non-bonded bead distances used as collision threshold")
    return parser


def run(args) -> int:
    # Imported here: building the parser must not load the compiled plugin (cgml reference, train, ...)
    from ..compare import CompareSettings, compare, standin_bundle
    from ..mapping import BeadMapping
    from ..systems import peptides
    peptide = peptides.load(args.pdb, environment=args.environment)
    if args.mapping:
        mapping = BeadMapping.load(args.mapping)
    elif args.bundle:
        mapping = None  # the mapping the bundle was trained with
    else:
        mapping = BeadMapping.per_residue(peptide.topology, peptide.system)
    bundle = args.bundle or standin_bundle(peptide.topology, peptide.positions, mapping, Path(args.out) / "standin.pt")
    settings = CompareSettings.for_molecule(
        peptide, cg_steps=args.cg_steps, md_steps=args.md_steps, md_timestep_ps=args.md_timestep_ps,
        temperature_k=args.temperature_k, friction_per_ps=args.friction_per_ps, reference=args.reference,
        reference_interval_ps=args.reference_interval_ps, platform=args.platform, seed=args.seed,
        handoff_steps=args.handoff_steps, bins=args.bins, collision_percentile=args.collision_percentile)
    report = compare(peptide.system, peptide.topology, peptide.positions, bundle, settings, mapping, args.out,
                     args.forcefield)
    s = report["speed"]
    print(f"report: {Path(args.out) / 'report.md'}; Rg CG {report['cg']['rg_mean_nm']:.3f} nm vs classical "
          f"{report['classical']['rg_mean_nm']:.3f} nm; speed ratio {s['ratio']:.3g}"
          + (f"; CG force field Rg {report['forcefield']['rg_mean_nm']:.3f} nm, speed ratio {s['forcefield_ratio']:.3g}"
             if "forcefield" in report else ""))
    if report["handoff"].get("failed"):
        print(f"the hand-off to atoms failed (the report marks it): {report['handoff']['reason']}")
    return 0
