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

Poor CG frames (beads too close, bonds between beads torn) can leave the minimised atoms unphysical.
Every hand-off ends with a check of the atoms (``check_atoms``): every bond and constraint within
``max_bond_strain`` of its rest length, the potential energy per atom below
``max_energy_per_atom_kj``, and every bead-pair distance within ``max_pair_error_nm`` of the CG
frame's.  When the check fails, the hand-off tries to recover: short restrained Langevin dynamics
with the restraint released in stages (``recovery_stages``), then the minimisation again.  If the
atoms are still unphysical it raises ``HandoffError`` with the numbers (the worst
bond, the energy per atom) and leaves the Context as it was, instead of letting the next classical
step turn the positions into NaN.

The relaxation runs in a temporary Context built on a copy of the System (``XmlSerializer.clone``)
on the same platform, so the user's System and Context are never re-initialised: forces, force
groups, the integrator (e.g. a ``CompoundIntegrator`` holding a ``CGMLIntegrator``), global
parameters and time stay as they were.  Which sub-integrator of a ``CompoundIntegrator`` runs next
is the caller's choice (``setCurrentIntegrator``).
"""
from __future__ import annotations

import warnings
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


class HandoffError(RuntimeError):
    """The atoms could not be made physical around the CG frame; the message has the numbers."""


class HandoffWarning(UserWarning):
    """The atoms are physical but fit the CG frame only roughly; the message has the numbers."""


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


RECOVERY_STAGES = ((1.0, 500), (0.3, 500), (0.1, 500))  # (fraction of the force constant, Langevin steps of 0.5 fs)


def handoff(context: openmm.Context, mapping: BeadMapping, targets_nm=None, temperature_k=300.0,
            force_constant_kj_per_nm2: float = 5.0e4, tolerance_kj_per_nm: float = 1.0, max_iterations: int = 0,
            seed: int | None = None, rounds: int = 4, accuracy_nm: float = 0.002, max_bond_strain: float = 0.5,
            max_energy_per_atom_kj: float = 100.0, max_pair_error_nm: float = 0.3,
            warn_deviation_nm: float = 0.1, recovery_stages=RECOVERY_STAGES) -> HandoffResult:
    """Relax the atoms of ``context`` with bead centres restrained at ``targets_nm``, then draw velocities.

    ``targets_nm`` (n_beads, 3), default the bead centres of the Context's current positions (what
    the CG model produced).  ``tolerance_kj_per_nm`` is the minimiser's force tolerance;
    ``max_iterations`` 0 = until converged; ``seed`` for the velocities (None: random); at most
    ``rounds`` anchor corrections, stopping once every centre is within ``accuracy_nm`` of its
    target.  Quantities are converted to these units.  The Context's System is left untouched.
    The relaxed atoms must pass ``check_atoms`` (``max_bond_strain``, ``max_energy_per_atom_kj``)
    with every bead-pair distance within ``max_pair_error_nm`` of the targets' and above a fifth of
    it (the CG frame's shape, whatever its place), after a recovery through ``recovery_stages`` if
    needed (empty: no recovery); otherwise ``HandoffError`` is raised and the Context is left as it
    was.  A bead centre that ends more than ``warn_deviation_nm`` from its target (physical atoms
    that fit the CG frame only roughly) gives a ``HandoffWarning`` with the numbers.
    """
    system = context.getSystem()
    mapping.require_covers(system, "handoff")
    state = context.getState(getPositions=True, getEnergy=True, getParameters=True)
    targets = mapping.centres(state.getPositions(asNumpy=True)) if targets_nm is None else plain_array(targets_nm)
    force_constant = plain(force_constant_kj_per_nm2, unit.kilojoule_per_mole / unit.nanometer ** 2,
                           "force_constant_kj_per_nm2")
    copy = openmm.XmlSerializer.clone(system)
    restraint = restraint_force(mapping, targets, force_constant)
    used = {force.getForceGroup() for force in system.getForces()}
    restraint.setForceGroup(max(set(range(32)) - used, default=0))
    copy.addForce(restraint)
    relax = _temporary_context(copy, context)
    relax.setState(state)
    temperature = plain(temperature_k, unit.kelvin, "temperature_k")
    report, anchors = _Counter(), targets.copy()

    def relax_atoms():
        for _ in range(max(1, int(rounds))):
            openmm.LocalEnergyMinimizer.minimize(relax, tolerance_kj_per_nm, max_iterations, report)
            relaxed = relax.getState(getPositions=True).getPositions(asNumpy=True)
            miss = targets - mapping.centres(relaxed)
            if np.abs(miss).max() < accuracy_nm / np.sqrt(3):
                break
            anchors[:] += miss
            _set_restraint(restraint, anchors, force_constant, relax)
        problems = [_problem(system, relaxed, relax, restraint, max_bond_strain, max_energy_per_atom_kj)]
        problems.append(_shape_problem(mapping.centres(relaxed), targets, max_pair_error_nm))
        return relaxed, "; ".join(p for p in problems if p)

    relaxed, problem = relax_atoms()
    if problem and recovery_stages:
        failed = _settle(relax, restraint, anchors, force_constant, temperature, recovery_stages, seed)
        if failed:
            problem += "; " + failed
        else:
            relaxed, problem = relax_atoms()
    del relax
    if problem:
        raise HandoffError(f"handoff: the atoms cannot be made physical around this CG frame: {problem} (after restrained "
                           f"minimisation{' and staged restrained dynamics' if recovery_stages else ''}). The Context is "
                           f"unchanged; the CG state has likely left what the model was trained on")
    off = np.linalg.norm(mapping.centres(relaxed) - targets, axis=1)
    if off.max() > warn_deviation_nm:
        warnings.warn(f"handoff: the atoms fit the CG frame only roughly: bead {int(off.argmax())}'s centre ends "
                      f"{off.max():.3f} nm from its CG position (rms over beads {np.sqrt(np.mean(off ** 2)):.3f} nm); "
                      f"the atoms are physical, and classical steps can go on", HandoffWarning, stacklevel=2)
    context.setPositions(relaxed)
    context.applyConstraints(1e-6)
    if seed is None:
        context.setVelocitiesToTemperature(float(temperature))
    else:
        context.setVelocitiesToTemperature(float(temperature), int(seed))
    after = context.getState(getPositions=True, getEnergy=True)
    deviation = np.linalg.norm(mapping.centres(after.getPositions(asNumpy=True)) - targets, axis=1)
    return HandoffResult(float(deviation.max()), float(np.sqrt(np.mean(deviation ** 2))),
                         state.getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole),
                         after.getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole), report.iterations)


def rest_lengths(system: openmm.System) -> tuple[np.ndarray, np.ndarray]:
    """Atom pairs (m, 2) joined by a HarmonicBondForce bond or a constraint, and their rest lengths (m,) nm."""
    pairs, lengths = [], []
    for force in system.getForces():
        if isinstance(force, openmm.HarmonicBondForce):
            for b in range(force.getNumBonds()):
                i, j, r0, _ = force.getBondParameters(b)
                pairs.append((i, j))
                lengths.append(r0.value_in_unit(unit.nanometer))
    for c in range(system.getNumConstraints()):
        i, j, d = system.getConstraintParameters(c)
        pairs.append((i, j))
        lengths.append(d.value_in_unit(unit.nanometer))
    return np.array(pairs, dtype=np.int64).reshape(-1, 2), np.array(lengths, dtype=float)


def check_atoms(system: openmm.System, positions_nm, energy_kj: float, max_bond_strain: float = 0.5,
                max_energy_per_atom_kj: float = 100.0) -> str | None:
    """Why the atoms at ``positions_nm`` (n, 3) with potential energy ``energy_kj`` are unphysical, or None:
    a bond or constraint stretched or compressed by more than ``max_bond_strain`` of its rest length,
    or more than ``max_energy_per_atom_kj`` of potential energy per atom (or a non-finite one)."""
    x = np.asarray(positions_nm, dtype=float)
    n = system.getNumParticles()
    if not np.all(np.isfinite(x)) or not np.isfinite(energy_kj):
        return "positions or energy are NaN or infinite"
    pairs, r0 = rest_lengths(system)
    problems = []
    if len(pairs):
        r = np.linalg.norm(x[pairs[:, 0]] - x[pairs[:, 1]], axis=1)
        strain = np.abs(r - r0) / np.maximum(r0, 1e-12)
        worst = int(np.argmax(strain))
        if strain[worst] > max_bond_strain:
            i, j = pairs[worst]
            problems.append(f"{int((strain > max_bond_strain).sum())} of {len(pairs)} bonds are off their rest length by more than "
                            f"{max_bond_strain:.0%}; the worst, atoms {i}-{j}, is {r[worst]:.3f} nm against {r0[worst]:.3f} nm")
    if energy_kj / n > max_energy_per_atom_kj:
        problems.append(f"the potential energy is {energy_kj / n:.3g} kJ/mol per atom (limit {max_energy_per_atom_kj:g})")
    return "; ".join(problems) or None


def _shape_problem(relaxed_nm, targets_nm, max_pair_error_nm: float, squeeze: float = 0.2) -> str | None:
    """Why the relaxed bead centres do not have the CG frame's shape, or None: a bead-pair distance
    off by more than ``max_pair_error_nm``, or one the frame squeezes below ``squeeze`` of what the
    atoms hold (collapsed beads; the shipped peptide model's frames keep above a third)."""
    relaxed = np.linalg.norm(relaxed_nm[:, None] - relaxed_nm[None], axis=-1)
    target = np.linalg.norm(targets_nm[:, None] - targets_nm[None], axis=-1)
    np.fill_diagonal(relaxed, 1.0)
    np.fill_diagonal(target, 1.0)
    error, ratio = np.abs(relaxed - target), target / relaxed
    if error.max() <= max_pair_error_nm and ratio.min() >= squeeze:
        return None
    i, j = np.unravel_index(int(error.argmax() if error.max() > max_pair_error_nm else ratio.argmin()), error.shape)
    return (f"the CG frame puts beads {i} and {j} {target[i, j]:.3f} nm apart, the physical atoms hold them "
            f"{relaxed[i, j]:.3f} nm apart (limits: {max_pair_error_nm:g} nm off, or below {squeeze:g} of it)")


def _settle(relax: openmm.Context, restraint, anchors, force_constant, temperature, stages, seed):
    """Restrained Langevin dynamics, the restraint weakened stage by stage (``stages``: (fraction of
    the force constant, steps) pairs), then back to full strength; the caller minimises afterwards.
    Returns why the dynamics failed (``relax`` then keeps its positions), or None."""
    integrator = openmm.LangevinMiddleIntegrator(float(temperature), 10.0, 0.0005)
    integrator.setRandomNumberSeed(0 if seed is None else int(seed))
    state = relax.getState(getPositions=True)
    dynamics = _temporary_context(relax.getSystem(), relax, integrator)
    dynamics.setPositions(state.getPositions())
    dynamics.setVelocitiesToTemperature(float(temperature), 0 if seed is None else int(seed))
    try:
        for fraction, steps in stages:
            _set_restraint(restraint, anchors, force_constant * fraction, dynamics)
            integrator.step(int(steps))
    except openmm.OpenMMException as error:  # e.g. NaN: the atoms were too far gone for dynamics
        reason = str(error).split("  For more information")[0].rstrip()
        return f"the restrained dynamics of the recovery failed ({reason})"
    finally:
        _set_restraint(restraint, anchors, force_constant, relax)
    relax.setPositions(dynamics.getState(getPositions=True).getPositions())
    return None


def _set_restraint(restraint, anchors, force_constant, context):
    for b in range(len(anchors)):
        restraint.setBondParameters(b, [b], [float(force_constant), *map(float, anchors[b])])
    restraint.updateParametersInContext(context)


class _Counter(openmm.MinimizationReporter):
    """Counts minimiser iterations over all rounds."""

    iterations = 0

    def report(self, iteration, x, grad, args):
        self.iterations += 1
        return False


def _problem(system, relaxed, relax, restraint, max_bond_strain, max_energy_per_atom_kj):
    """check_atoms on the relaxed atoms, with the energy of the System's own forces (the restraint,
    in a force group of its own where one is free, left out)."""
    groups = 0
    for force in system.getForces():
        groups |= 1 << force.getForceGroup()
    if groups & (1 << restraint.getForceGroup()):
        groups = 0xFFFFFFFF  # no free group: the restraint's energy is counted too
    energy = relax.getState(getEnergy=True, groups=groups).getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole)
    return check_atoms(system, relaxed.value_in_unit(unit.nanometer), energy, max_bond_strain, max_energy_per_atom_kj)


def _temporary_context(system: openmm.System, like: openmm.Context, integrator=None) -> openmm.Context:
    """A Context for ``system`` on the platform of ``like``, with its properties where they carry over."""
    platform = like.getPlatform()
    properties = {name: platform.getPropertyValue(like, name) for name in platform.getPropertyNames()}
    if integrator is None:
        integrator = openmm.VerletIntegrator(0.001)
        integrator.setConstraintTolerance(1e-6)
    try:
        return openmm.Context(system, integrator, platform, properties)
    except openmm.OpenMMException:
        return openmm.Context(system, integrator, platform)
