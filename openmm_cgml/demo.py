"""The demo: the shipped polymer model against classical MD on a sequence it never saw.

A 20-monomer chain of the held-out test split is built; from one start, the same Context runs the
learned CG integrator (20 ps steps) and classical Langevin dynamics (0.02 ps steps), hands the CG
end state back to atoms (beads restrained where the model put them), and continues classically.
``compare`` writes the report (Markdown, JSON, PNG plots) to the output folder.
"""
from __future__ import annotations

from pathlib import Path

from .bundle import shipped_model
from .compare import CompareSettings, compare
from .mapping import BeadMapping
from .systems import polymers

SEQUENCE = "SRRSRRRSRSRSRSRSHSRR"  # in the standard benchmark's held-out test split


def run(out_dir="out/demo", cg_steps: int = 2000, md_steps: int = 250_000, platform: str | None = None, seed: int = 1,
        progress: bool = True) -> dict:
    """Build the chain, compare, print the headline figures; returns the report (``compare``'s dict).
    ``platform`` defaults to CUDA when present, else CPU."""
    molecule = polymers.build(SEQUENCE, seed)
    mapping = BeadMapping.per_residue(molecule.topology, molecule.system)
    bundle = shipped_model("polymer")
    print(f"chain {SEQUENCE}: {mapping.n_atoms} particles in {mapping.n_beads} beads; model {bundle.name}")
    settings = CompareSettings.for_molecule(molecule, cg_steps=cg_steps, md_steps=md_steps,
                                            platform=platform, seed=seed, progress=progress)
    report = compare(molecule.system, molecule.topology, molecule.positions, bundle, settings, mapping, out_dir)
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
