import numpy as np
import pytest

from openmm_cgml import BeadMapping
from openmm_cgml.systems import peptides


def test_centres_hand_computed():
    mapping = BeadMapping((0, 0, 1), (1.0, 3.0, 2.0))
    x = np.array([[0.0, 0.0, 0.0], [4.0, 0.0, 0.0], [1.0, 2.0, 3.0]])
    assert np.allclose(mapping.centres(x), [[3.0, 0.0, 0.0], [1.0, 2.0, 3.0]])
    assert np.allclose(mapping.centres(np.stack([x, x + 1])), [[[3, 0, 0], [1, 2, 3]], [[4, 1, 1], [2, 3, 4]]])
    assert mapping.bead_bonds([(0, 1), (1, 2), (2, 0)]) == [(0, 1)]


@pytest.mark.parametrize("beads, masses, message", [
    ((0, 2), (1.0, 1.0), "no atom is in bead 1"),
    ((0, 1), (1.0, 0.0), "bead 1 has zero total mass"),
    ((0, 1, 1), (1.0, 1.0), "3 bead indices but 2 atom masses"),
])
def test_bad_mappings(beads, masses, message):
    with pytest.raises(ValueError, match=message):
        BeadMapping(beads, masses)


def test_per_residue_on_peptide_conserves_mass_and_round_trips(tmp_path):
    peptide = peptides.load()
    mapping = BeadMapping.per_residue(peptide.topology, peptide.system)
    assert (mapping.n_atoms, mapping.n_beads) == (22, 3)
    assert mapping.bead_masses().sum() == pytest.approx(sum(mapping.atom_masses))
    mapping.save(tmp_path / "mapping.json")
    assert BeadMapping.load(tmp_path / "mapping.json") == mapping
    with pytest.raises(ValueError, match="centres: positions have shape"):
        mapping.centres(np.zeros((21, 3)))
