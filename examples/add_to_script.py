"""Adding the learned integrator to an existing OpenMM script: the three lines marked CGML.

The script is an ordinary OpenMM one (a peptide in implicit solvent, Langevin dynamics, a
Simulation with reporters).  The three lines put the shipped peptide model beside the classical
integrator in a CompoundIntegrator, so the same Simulation runs nanoseconds of CG dynamics in
2 ps steps and then, after the hand-off of the CG state to the atoms, goes back to femtosecond
classical steps.
"""
import sys

import openmm
import openmm.app as app
import openmm.unit as unit

from openmm_cgml import BeadMapping, create_integrator, shipped_model  # CGML 1/3
from openmm_cgml.handoff import handoff
from openmm_cgml.systems import peptides


def main(cg_steps: int = 500, md_steps: int = 500, report_every: int = 100):
    peptide = peptides.load()  # alanine dipeptide: pdbfixer, amber14 + GBn2
    topology, system = peptide.topology, peptide.system
    md = openmm.LangevinMiddleIntegrator(300 * unit.kelvin, 1 / unit.picosecond, 0.002 * unit.picoseconds)

    cg = create_integrator(shipped_model("peptide"), topology, system)  # CGML 2/3
    integrator = openmm.CompoundIntegrator(); integrator.addIntegrator(md); integrator.addIntegrator(cg)  # CGML 3/3

    simulation = app.Simulation(topology, system, integrator, openmm.Platform.getPlatformByName("CPU"))
    simulation.context.setPositions(peptide.positions)
    simulation.minimizeEnergy()
    simulation.reporters.append(app.StateDataReporter(sys.stdout, report_every, time=True, potentialEnergy=True,
                                                      temperature=True, speed=True))
    integrator.setCurrentIntegrator(1)  # learned CG steps of 2 ps
    simulation.step(cg_steps)
    # Back to classical steps of 2 fs in the same Context.  The CG steps moved each bead's atoms
    # rigidly, so first relax the atoms with the bead centres held where the model put them, and draw
    # velocities (a straight switch can blow the system up).
    handoff(simulation.context, BeadMapping.of_integrator(cg, system), temperature_k=300)
    integrator.setCurrentIntegrator(0)
    simulation.step(md_steps)
    return simulation.context.getState(getEnergy=True).getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole)


if __name__ == "__main__":
    print(f"final potential energy {main():.1f} kJ/mol")
