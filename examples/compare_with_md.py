"""Comparing the learned integrator with classical MD on your own system.

The shipped peptide model and classical Langevin dynamics run from the same start in the same
Context; the CG end state is handed back to atoms; report.md (with PNG plots) and report.json go
to the output folder.  The same is available as `cgml compare --pdb FILE --bundle MODEL`.
"""
import sys

from openmm_cgml import shipped_model
from openmm_cgml.compare import CompareSettings, compare
from openmm_cgml.systems import peptides


def main(out="out/compare-peptide", cg_steps: int = 2000, md_steps: int = 200_000):
    peptide = peptides.load()  # or peptides.load("my.pdb")
    settings = CompareSettings.for_molecule(peptide, cg_steps=cg_steps, md_steps=md_steps)  # the system's MD settings
    report = compare(peptide.system, peptide.topology, peptide.positions, shipped_model("peptide"), settings, out_dir=out)
    print(f"mean bead Rg: CG {report['cg']['rg_mean_nm']:.3f} nm, classical {report['classical']['rg_mean_nm']:.3f} nm; "
          f"speed ratio {report['speed']['ratio']:.0f}; report in {out}/report.md")
    return report


if __name__ == "__main__":
    main(*sys.argv[1:2])
