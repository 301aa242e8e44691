"""``create_integrator``: a ready CGMLIntegrator for an OpenMM Topology and System."""
from __future__ import annotations

import os

import openmm.app as app
import openmm.unit as unit

from .bundle import load_bundle
from .contract import FEATURES_KEY
from .features import ATOM_FEATURES, atom_bonds, atom_features
from .mapping import BeadMapping, check_sizes
from .plugin import CGMLIntegrator
from .units import plain


def create_integrator(bundle, topology: app.Topology, system, step_size_ps=None,
                      mapping: BeadMapping | None = None, independent_molecules: bool = False) -> CGMLIntegrator:
    """A CGMLIntegrator for ``system`` with beads from ``mapping``, atom features and bonds from ``topology``.

    ``mapping`` defaults to the mapping method the bundle was trained with (its metadata), else one
    bead per residue; ``step_size_ps`` (ps, or a Quantity) defaults to the bundle's CG step.
    ``independent_molecules`` sets the integrator's IndependentMolecules property: the System's
    molecules are independent copies (replicas), advanced together without edges between them.
    """
    check_sizes(topology, system)
    module, metadata = load_bundle(bundle)
    trained = metadata.get(FEATURES_KEY)
    if trained is not None and list(trained) != list(ATOM_FEATURES):
        raise ValueError(f"create_integrator: '{bundle}' was trained with atom features {list(trained)}, but this "
                         f"openmm_cgml computes {list(ATOM_FEATURES)}; set them with CGMLIntegrator.setAtomFeatures")
    mapping = mapping or BeadMapping.from_metadata(metadata, topology, system)
    mapping.require_covers(system, "create_integrator")
    step = module.timestep_ps if step_size_ps is None else plain(step_size_ps, unit.picosecond, "step_size_ps")
    integrator = CGMLIntegrator(os.fspath(bundle), float(step))
    integrator.setBeadAssignment(list(mapping.bead_of_atom))
    integrator.setAtomFeatures(atom_features(topology))
    integrator.setAtomBonds(atom_bonds(topology))
    integrator.setProperty("IndependentMolecules", "true" if independent_molecules else "false")
    return integrator
