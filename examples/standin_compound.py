"""CGMLIntegrator inside a CompoundIntegrator with LangevinMiddleIntegrator, checked against a closed form.

Six particles in three beads.  The propagator, scripted here, contracts the beads toward their
centroid by a factor 1/2 per CG step, so after n steps bead b sits at c + (x_b - c) / 2**n.  The
script checks that to 1e-6 nm, then switches the same Context to Langevin dynamics and runs it.

    python examples/standin_compound.py
"""
import numpy as np
import openmm
import openmm.unit as unit
import torch

import openmm_cgml
from openmm_cgml.bundle import save_bundle


class Contraction(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.history_length = 1
        self.timestep_ps = 10.0

    @torch.jit.export
    def embed(self, atom_features: torch.Tensor, atom_bonds: torch.Tensor, bead_of_atom: torch.Tensor,
              atom_masses: torch.Tensor) -> torch.Tensor:
        return torch.zeros(int(bead_of_atom.max()) + 1, 1, dtype=torch.float64)

    @torch.jit.export
    def step(self, bead_embedding: torch.Tensor, history: torch.Tensor, bead_bonds: torch.Tensor,
             generator: torch.Generator) -> torch.Tensor:
        x = history[-1]  # deterministic: draws nothing from the integrator's generator
        centroid = x.mean(0, keepdim=True)
        return centroid + 0.5 * (x - centroid)


def main(out="contraction.pt", cg_steps=4, md_steps=100):
    masses = [12.0, 1.0, 14.0, 16.0, 12.0, 12.0]
    beads = [0, 0, 1, 1, 2, 2]
    system = openmm.System()
    chain = openmm.HarmonicBondForce()
    for i, mass in enumerate(masses):
        system.addParticle(mass)
        if i:
            chain.addBond(i - 1, i, 0.15, 1000.0)
    system.addForce(chain)
    positions = np.array([[0.15 * i, 0.1 * (i % 2), 0.05 * (i % 3)] for i in range(6)])

    cg = openmm_cgml.CGMLIntegrator(str(save_bundle(Contraction(), out)), 10.0 * unit.picoseconds)
    cg.setBeadAssignment(beads)
    cg.setAtomBonds([(i, i + 1) for i in range(5)])
    compound = openmm.CompoundIntegrator()
    compound.addIntegrator(cg)
    compound.addIntegrator(openmm.LangevinMiddleIntegrator(300 * unit.kelvin, 1 / unit.picosecond, 0.001 * unit.picoseconds))
    context = openmm.Context(system, compound, openmm.Platform.getPlatformByName("CPU"))
    context.setPositions(positions * unit.nanometer)

    mapping = openmm_cgml.BeadMapping(tuple(beads), tuple(masses))
    start = mapping.centres(positions)
    centroid = start.mean(0)
    compound.setCurrentIntegrator(0)
    compound.step(cg_steps)
    found = mapping.centres(context.getState(getPositions=True).getPositions(asNumpy=True))
    expected = centroid + (start - centroid) / 2 ** cg_steps
    error = np.abs(found - expected).max()
    print(f"{cg_steps} CG steps of 10 ps: largest bead error against the closed form {error:.2e} nm")
    assert error < 1e-6, error

    compound.setCurrentIntegrator(1)
    openmm.LocalEnergyMinimizer.minimize(context)
    context.setVelocitiesToTemperature(300 * unit.kelvin, 1)
    compound.step(md_steps)
    state = context.getState(getEnergy=True)
    print(f"then {md_steps} Langevin steps in the same Context: time {state.getTime()}, "
          f"potential energy {state.getPotentialEnergy()}")
    assert np.isfinite(state.getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole))
    return error


if __name__ == "__main__":
    main()
