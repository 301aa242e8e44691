import numpy as np
import openmm
import openmm.app as app
import pytest

from openmm_cgml import BeadMapping
from openmm_cgml.features import atom_bonds
from openmm_cgml.systems import peptides, polymers


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



def test_united_atom_beads_are_the_heavy_atoms_with_their_hydrogens():
    peptide = peptides.load()  # alanine dipeptide: 10 heavy atoms, 12 hydrogens
    mapping = BeadMapping.create("united-atom", peptide.topology, peptide.system)
    atoms = list(peptide.topology.atoms())
    assert (mapping.n_beads, mapping.method) == (10, "united-atom")
    heavy = [a for a in atoms if a.element.symbol != "H"]
    assert [mapping.bead_of_atom[a.index] for a in heavy] == list(range(10))  # numbered in heavy-atom order
    for a, b in peptide.topology.bonds():
        for h, other in ((a, b), (b, a)):
            if h.element.symbol == "H":
                assert mapping.bead_of_atom[h.index] == mapping.bead_of_atom[other.index]
    # The bead of a heavy atom sits within a hydrogen's reach of it: its dihedrals are the backbone's.
    x = np.asarray(peptide.positions.value_in_unit(openmm.unit.nanometer))
    centres = mapping.centres(x)
    assert np.abs(centres - x[[a.index for a in heavy]]).max() < 0.02

def _renumbered(molecule, permutation):
    """The same molecule with its atoms added in the order ``permutation`` (new atom k is old atom permutation[k])."""
    topology = app.Topology()
    chain = topology.addChain()
    residues = {r.index: topology.addResidue(r.name, chain) for r in molecule.topology.residues()}
    old = list(molecule.topology.atoms())
    new = {}
    for k in permutation:
        atom = old[k]
        new[k] = topology.addAtom(atom.name, atom.element, residues[atom.residue.index])
    for a, b in molecule.topology.bonds():
        topology.addBond(new[a.index], new[b.index])
    system = openmm.System()
    for k in permutation:
        system.addParticle(molecule.system.getParticleMass(k))
    return topology, system


def _connected(mapping, bonds):
    parent = list(range(mapping.n_atoms))

    def find(i):
        while parent[i] != i:
            i = parent[i]
        return i
    for i, j in bonds:
        if mapping.bead_of_atom[i] == mapping.bead_of_atom[j]:
            parent[find(i)] = find(j)
    roots = {}
    for atom, bead in enumerate(mapping.bead_of_atom):
        roots.setdefault(bead, set()).add(find(atom))
    return all(len(r) == 1 for r in roots.values())


@pytest.mark.parametrize("atoms_per_bead", [3, 6])
@pytest.mark.parametrize("build", [lambda: polymers.build("SHLRRSHLLS", 2), peptides.load], ids=["polymer", "peptide"])
def test_graclus_beads_connected_sized_mass_conserving_and_renumbering_invariant(build, atoms_per_bead):
    molecule = build()
    mapping = BeadMapping.by_clustering(molecule.topology, molecule.system, atoms_per_bead)
    bonds = atom_bonds(molecule.topology)
    sizes = np.bincount(mapping.bead_of_atom)
    assert _connected(mapping, bonds)
    assert sizes.max() <= round(1.5 * atoms_per_bead) and mapping.n_beads < mapping.n_atoms / 2
    assert mapping.bead_masses().sum() == pytest.approx(sum(mapping.atom_masses), rel=1e-12)
    assert BeadMapping.by_clustering(molecule.topology, molecule.system, atoms_per_bead) == mapping
    # OpenMM keeps each residue's atoms contiguous, so renumbering shuffles atoms within residues.
    rng = np.random.default_rng(5)
    permutation = np.concatenate([rng.permutation([a.index for a in r.atoms()]) for r in molecule.topology.residues()])
    assert (permutation != np.arange(mapping.n_atoms)).any()
    topology, system = _renumbered(molecule, permutation)
    renumbered = BeadMapping.by_clustering(topology, system, atoms_per_bead)
    # New atom k is old atom permutation[k]: the partitions must agree (here even the labels do).
    assert [renumbered.bead_of_atom[k] for k in np.argsort(permutation)] == list(mapping.bead_of_atom)
    assert BeadMapping.from_json(mapping.to_json()) == mapping
    assert BeadMapping.create(mapping.method, molecule.topology, molecule.system) == mapping
