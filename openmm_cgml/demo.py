"""The demo: the shipped polymer model against classical MD on a sequence it never saw.

A 20-monomer chain of the held-out test split is built; from one start, the same Context runs the
learned CG integrator (20 ps steps) and classical Langevin dynamics (0.02 ps steps), hands the CG
end state back to atoms (beads restrained where the model put them), and continues classically.
``compare`` writes the report (Markdown, JSON, PNG plots) to the output folder.
"""
from __future__ import annotations

from pathlib import Path

from .compare import compare
from .export import shipped_model
from .mapping import BeadMapping
from .systems import polymers

SEQUENCE = "SRRSRRRSRSRSRSRSHSRR"  # in the standard benchmark's held-out test split


def run(out_dir="out/demo", cg_steps: int = 2000, md_steps: int = 250_000, platform: str = "CPU", seed: int = 1,
        progress: bool = True) -> dict:
    molecule = polymers.build(SEQUENCE, seed)
    mapping = BeadMapping.per_residue(molecule.topology, molecule.system)
    bundle = shipped_model("polymer")
    print(f"chain {SEQUENCE}: {mapping.n_atoms} particles in {mapping.n_beads} beads; model {bundle.name}")
    report = compare(molecule.system, molecule.topology, molecule.positions, bundle, mapping, out_dir, cg_steps,
                     md_steps, molecule.timestep_ps, molecule.temperature_k, molecule.friction_per_ps,
                     platform=platform, seed=seed, progress=progress)
    cg, md = report["cg"], report["classical"]
    speed = report["speed"]
    print(f"mean Rg: CG {cg['rg_mean_nm']:.3f} nm, classical {md['rg_mean_nm']:.3f} nm; Rg² relaxation: "
          f"CG {_ps(cg['rg2_relaxation_ps'])}, classical {_ps(md['rg2_relaxation_ps'])}")
    js = report["js_divergence_bits"]["pair_distances_mean_over_pairs"]
    print(f"bead-distance JS divergence {js:.3f} bits (mean over pairs); CG frames with a collision: "
          f"{cg['frames_with_collision']:.1%} of {cg['frames']}")
    print(f"simulated ns per wall second: CG {speed['cg_ns_per_s']:.2f}, classical {speed['classical_ns_per_s']:.3f} "
          f"(ratio {speed['ratio']:.0f})")
    print(f"report: {Path(out_dir) / 'report.md'}")
    return report


def _ps(value) -> str:
    return "n/a (run too short)" if value is None else f"{value:.0f} ps"


def add_cli(commands) -> None:
    parser = commands.add_parser("demo", help="the shipped polymer model against classical MD, with a report")
    parser.add_argument("--out", default="out/demo", help="folder for the report and its plots")
    parser.add_argument("--cg-steps", type=int, default=2000, help="CG steps of 20 ps")
    parser.add_argument("--md-steps", type=int, default=250_000, help="classical steps of 0.02 ps")
    parser.add_argument("--platform", default="CPU", choices=["CPU", "Reference"])
    parser.add_argument("--seed", type=int, default=1)
    parser.set_defaults(func=lambda args: run(args.out, args.cg_steps, args.md_steps, args.platform, args.seed) and 0)
