"""The demo: CG steps on a real molecule, then the same Context hands over to classical MD.

Until a trained model ships, the propagator is an analytic stand-in (BondedDiffusion): Brownian
dynamics of the beads joined by springs.  The molecule is alanine dipeptide from the shipped PDB,
prepared with pdbfixer and parameterised with amber14 + GBn2 implicit solvent.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import openmm
import openmm.unit as unit

from .export import save_bundle
from .integrator import atom_bonds, create_integrator
from .mapping import BeadMapping
from .standins import BondedDiffusion
from .systems import peptides


def _radius_of_gyration(centres: np.ndarray, masses: np.ndarray) -> float:
    com = (centres * masses[:, None]).sum(0) / masses.sum()
    return float(np.sqrt((masses * ((centres - com) ** 2).sum(1)).sum() / masses.sum()))


def run(out_dir, cg_steps: int = 200, md_steps: int = 500, platform: str = "CPU", seed: int = 1) -> dict:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    peptide = peptides.load()
    mapping = BeadMapping.per_residue(peptide.topology, peptide.system)
    # Rest length of the stand-in's springs: the bead distance in the prepared structure.
    start = mapping.centres(peptide.positions)
    rest = float(np.mean([np.linalg.norm(start[i] - start[j])
                          for i, j in mapping.bead_bonds(atom_bonds(peptide.topology))]))
    bundle = save_bundle(BondedDiffusion(rest_nm=rest, timestep_ps=1.0), out_dir / "standin-bonded-diffusion.pt",
                         {"kind": "analytic stand-in", "model": "BondedDiffusion", "rest_nm": rest})
    cg = create_integrator(bundle, peptide.topology, peptide.system)
    cg.setRandomNumberSeed(seed)
    md = openmm.LangevinMiddleIntegrator(300 * unit.kelvin, 1 / unit.picosecond, 0.002 * unit.picoseconds)
    md.setRandomNumberSeed(seed)
    compound = openmm.CompoundIntegrator()
    compound.addIntegrator(cg)
    compound.addIntegrator(md)
    context = openmm.Context(peptide.system, compound, openmm.Platform.getPlatformByName(platform))
    context.setPositions(peptide.positions)
    openmm.LocalEnergyMinimizer.minimize(context)

    masses = mapping.bead_masses()
    print(f"alanine dipeptide: {mapping.n_atoms} atoms in {mapping.n_beads} beads (one per residue), "
          f"bead masses {np.round(masses, 2).tolist()} amu")
    compound.setCurrentIntegrator(0)
    rg, cg_wall = [], 0.0
    for _ in range(cg_steps):
        tic = time.perf_counter()
        compound.step(1)
        cg_wall += time.perf_counter() - tic
        x = context.getState(getPositions=True).getPositions(asNumpy=True)
        rg.append(_radius_of_gyration(mapping.centres(x), masses))
    cg_time = context.getState().getTime().value_in_unit(unit.picosecond)
    print(f"CG: {cg_steps} steps of {cg.getStepSize()} -> {cg_time:.0f} ps simulated in {cg_wall:.2f} s wall; "
          f"bead Rg {np.mean(rg):.3f} ± {np.std(rg):.3f} nm")

    compound.setCurrentIntegrator(1)
    openmm.LocalEnergyMinimizer.minimize(context)
    context.setVelocitiesToTemperature(300 * unit.kelvin, seed)
    tic = time.perf_counter()
    compound.step(md_steps)
    md_wall = time.perf_counter() - tic
    state = context.getState(getEnergy=True, getPositions=True)
    md_time = state.getTime().value_in_unit(unit.picosecond) - cg_time
    energy = state.getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole)
    print(f"classical: switched the same Context to LangevinMiddleIntegrator, minimised, {md_steps} steps "
          f"-> {md_time:.1f} ps in {md_wall:.2f} s wall; potential energy {energy:.1f} kJ/mol")
    speed_cg, speed_md = cg_time / cg_wall, md_time / md_wall
    print(f"simulated ps per wall second: CG {speed_cg:.0f}, classical {speed_md:.1f} (ratio {speed_cg / speed_md:.0f}; "
          f"the stand-in is not a trained model, so this measures the integrator, not fidelity)")
    with open(out_dir / "final.pdb", "w") as handle:
        openmm.app.PDBFile.writeFile(peptide.topology, state.getPositions(), handle)
    return {"rg_mean_nm": float(np.mean(rg)), "energy_kj_mol": energy, "cg_ps_per_s": speed_cg, "md_ps_per_s": speed_md}


def add_cli(commands) -> None:
    parser = commands.add_parser("demo", help="CG steps on alanine dipeptide, then hand-off to classical MD")
    parser.add_argument("--out", default="out/demo", help="folder for the bundle and the final structure")
    parser.add_argument("--cg-steps", type=int, default=200)
    parser.add_argument("--md-steps", type=int, default=500)
    parser.add_argument("--platform", default="CPU", choices=["CPU", "Reference"])
    parser.add_argument("--seed", type=int, default=1)
    parser.set_defaults(func=lambda args: run(args.out, args.cg_steps, args.md_steps, args.platform, args.seed) and 0)
