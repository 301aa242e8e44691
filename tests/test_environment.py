"""The set-up installs what the pipeline needs, with torch pinned: torch-cluster, and openmm-torch's
TorchForce giving the energy and forces of a scripted module on the Reference and CPU platforms."""
from pathlib import Path

import numpy as np
import openmm
import pytest
import torch

REQUIREMENTS = Path(__file__).resolve().parents[1] / "requirements.txt"


def test_torch_is_the_pinned_version():
    pinned = next(line.split("==")[1].strip() for line in REQUIREMENTS.read_text().splitlines() if line.startswith("torch=="))
    assert torch.__version__.split("+")[0] == pinned


def test_torch_cluster_graclus_runs():
    from torch_cluster import graclus_cluster

    # Two disjoint bonds: whatever order graclus visits the atoms in, each bond becomes one cluster.
    row = torch.tensor([0, 1, 2, 3])
    col = torch.tensor([1, 0, 3, 2])
    cluster = graclus_cluster(row, col, num_nodes=4).tolist()
    assert cluster[0] == cluster[1] and cluster[2] == cluster[3] and cluster[0] != cluster[2]


class _Springs(torch.nn.Module):
    """E = sum_i k |x_i - c|^2 (kJ/mol, nm): forces -2k (x_i - c)."""

    def forward(self, positions):
        return 50.0 * ((positions - 0.1) ** 2).sum()


@pytest.mark.parametrize("platform", ["Reference", "CPU"])
def test_openmm_torch_force_gives_energy_and_forces(tmp_path, platform):
    import openmmtorch

    path = tmp_path / "springs.pt"
    torch.jit.script(_Springs()).save(str(path))
    system = openmm.System()
    for _ in range(3):
        system.addParticle(12.0)
    system.addForce(openmmtorch.TorchForce(str(path)))
    context = openmm.Context(system, openmm.VerletIntegrator(0.001), openmm.Platform.getPlatformByName(platform))
    x = np.array([[0.0, 0.1, 0.2], [0.3, -0.1, 0.5], [1.0, 1.0, 1.0]])
    context.setPositions(x)
    state = context.getState(getEnergy=True, getForces=True)
    energy = state.getPotentialEnergy().value_in_unit(openmm.unit.kilojoule_per_mole)
    forces = state.getForces(asNumpy=True).value_in_unit(openmm.unit.kilojoule_per_mole / openmm.unit.nanometer)
    assert energy == pytest.approx(50.0 * ((x - 0.1) ** 2).sum(), rel=1e-5)
    np.testing.assert_allclose(forces, -100.0 * (x - 0.1), rtol=1e-5, atol=1e-5)
