"""Hand-off from CG back to atoms: relax the atoms around the bead centres the CG model chose.

After CG steps every atom has been translated rigidly with its bead, so bonds between beads are
stretched and atoms of neighbouring beads may overlap.  ``handoff`` minimises the energy of the full
atomistic System with each bead's mass-weighted centre held at its target by a harmonic
``CustomCentroidBondForce`` (``force_constant_kj_per_nm2``), then writes the relaxed positions back,
draws velocities at the temperature, and leaves the Context ready for classical steps.

A harmonic restraint alone leaves each centre off its target by (net force of the System on the
bead) / k, which for a CG frame the atoms do not fit well can reach several hundredths of a nm.  So
the anchors are corrected in a few rounds (anchor += target - centre, minimise again), which drives
the centres onto the targets like a Lagrange multiplier would, with a moderate force constant.

The relaxation runs in a temporary Context built on a copy of the System (``XmlSerializer.clone``)
on the same platform, so the user's System and Context are never re-initialised: forces, force
groups, the integrator (e.g. a ``CompoundIntegrator`` holding a ``CGMLIntegrator``), global
parameters and time stay as they were.  Which sub-integrator of a ``CompoundIntegrator`` runs next
is the caller's choice (``setCurrentIntegrator``).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import openmm
import openmm.unit as unit

from .mapping import BeadMapping
from .units import plain, plain_array

RESTRAINT = "0.5*k_restraint*((x1-x0)^2+(y1-y0)^2+(z1-z0)^2)"


@dataclass
class HandoffResult:
    """What the hand-off achieved: bead centres after relaxation against the targets (nm), energies (kJ/mol)."""

    max_deviation_nm: float
    rms_deviation_nm: float
    potential_energy_before: float
    potential_energy_after: float
    minimizer_iterations: int

    def as_dict(self) -> dict:
        return asdict(self)


def restraint_force(mapping: BeadMapping, targets_nm, force_constant_kj_per_nm2: float) -> openmm.CustomCentroidBondForce:
    """A force holding the mass-weighted centre of every bead of ``mapping`` at ``targets_nm`` (n_beads, 3)."""
    targets = plain_array(targets_nm)
    if targets.shape != (mapping.n_beads, 3):
        raise ValueError(f"handoff: targets have shape {targets.shape}, expected ({mapping.n_beads}, 3) bead centres in nm")
    if not np.all(np.isfinite(targets)):
        raise ValueError("handoff: the target bead centres contain NaN or inf")
    force = openmm.CustomCentroidBondForce(1, RESTRAINT)
    for name in ("k_restraint", "x0", "y0", "z0"):
        force.addPerBondParameter(name)
    beads = np.asarray(mapping.bead_of_atom)
    masses = np.asarray(mapping.atom_masses)
    for b in range(mapping.n_beads):
        atoms = np.flatnonzero(beads == b)
        group = force.addGroup(atoms.tolist(), masses[atoms].tolist())
        force.addBond([group], [float(force_constant_kj_per_nm2), *map(float, targets[b])])
    return force


def handoff(context: openmm.Context, mapping: BeadMapping, targets_nm=None, temperature_k=300.0,
            force_constant_kj_per_nm2: float = 5.0e4, tolerance_kj_per_nm: float = 1.0, max_iterations: int = 0,
            seed: int | None = None, rounds: int = 4, accuracy_nm: float = 0.002) -> HandoffResult:
    """Relax the atoms of ``context`` with bead centres restrained at ``targets_nm``, then draw velocities.

    ``targets_nm`` (n_beads, 3), default the bead centres of the Context's current positions (what
    the CG model produced).  ``tolerance_kj_per_nm`` is the minimiser's force tolerance;
    ``max_iterations`` 0 = until converged; ``seed`` for the velocities (None: random); at most
    ``rounds`` anchor corrections, stopping once every centre is within ``accuracy_nm`` of its
    target.  Quantities are converted to these units.  The Context's System is left untouched.
    """
    system = context.getSystem()
    mapping.require_covers(system, "handoff")
    state = context.getState(getPositions=True, getEnergy=True, getParameters=True)
    targets = mapping.centres(state.getPositions(asNumpy=True)) if targets_nm is None else plain_array(targets_nm)
    force_constant = plain(force_constant_kj_per_nm2, unit.kilojoule_per_mole / unit.nanometer ** 2,
                           "force_constant_kj_per_nm2")
    copy = openmm.XmlSerializer.clone(system)
    restraint = restraint_force(mapping, targets, force_constant)
    copy.addForce(restraint)
    relax = _temporary_context(copy, context)
    relax.setState(state)
    report, anchors = _Counter(), targets.copy()
    for _ in range(max(1, int(rounds))):
        openmm.LocalEnergyMinimizer.minimize(relax, tolerance_kj_per_nm, max_iterations, report)
        relaxed = relax.getState(getPositions=True).getPositions(asNumpy=True)
        miss = targets - mapping.centres(relaxed)
        if np.abs(miss).max() < accuracy_nm / np.sqrt(3):
            break
        anchors += miss
        for b in range(mapping.n_beads):
            restraint.setBondParameters(b, [b], [float(force_constant), *map(float, anchors[b])])
        restraint.updateParametersInContext(relax)
    del relax
    context.setPositions(relaxed)
    context.applyConstraints(1e-6)
    temperature = plain(temperature_k, unit.kelvin, "temperature_k")
    if seed is None:
        context.setVelocitiesToTemperature(float(temperature))
    else:
        context.setVelocitiesToTemperature(float(temperature), int(seed))
    after = context.getState(getPositions=True, getEnergy=True)
    deviation = np.linalg.norm(mapping.centres(after.getPositions(asNumpy=True)) - targets, axis=1)
    return HandoffResult(float(deviation.max()), float(np.sqrt(np.mean(deviation ** 2))),
                         state.getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole),
                         after.getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole), report.iterations)


class _Counter(openmm.MinimizationReporter):
    """Counts minimiser iterations over all rounds."""

    iterations = 0

    def report(self, iteration, x, grad, args):
        self.iterations += 1
        return False


def _temporary_context(system: openmm.System, like: openmm.Context) -> openmm.Context:
    """A Context for ``system`` on the platform of ``like``, with its properties where they carry over."""
    platform = like.getPlatform()
    properties = {name: platform.getPropertyValue(like, name) for name in platform.getPropertyNames()}
    integrator = openmm.VerletIntegrator(0.001)
    integrator.setConstraintTolerance(1e-6)
    try:
        return openmm.Context(system, integrator, platform, properties)
    except openmm.OpenMMException:
        return openmm.Context(system, openmm.VerletIntegrator(0.001), platform)
