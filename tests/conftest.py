import openmm
import torch
import openmm.unit as unit
import pytest

import openmm_cgml
from openmm_cgml.bundle import save_bundle
from openmm_cgml.standins import BondedDiffusion, UniformDrift

PLATFORMS = [name for name in ("Reference", "CPU")
             if name in [openmm.Platform.getPlatform(i).getName() for i in range(openmm.Platform.getNumPlatforms())]]


@pytest.fixture(params=PLATFORMS)
def platform(request):
    return openmm.Platform.getPlatformByName(request.param)


@pytest.fixture
def drift_bundle(tmp_path):
    return save_bundle(UniformDrift(velocity=(0.1, -0.2, 0.3), timestep_ps=2.0), tmp_path / "drift.pt")


@pytest.fixture
def noise_bundle(tmp_path):
    return save_bundle(BondedDiffusion(timestep_ps=1.0, history_length=2), tmp_path / "noise.pt")


@pytest.fixture
def six_particles():
    """Six particles in three bonded beads of two; one harmonic chain for the classical steps."""
    system = openmm.System()
    bonds = openmm.HarmonicBondForce()
    for i, mass in enumerate([12.0, 1.0, 14.0, 16.0, 12.0, 12.0]):
        system.addParticle(mass)
        if i:
            bonds.addBond(i - 1, i, 0.15, 1000.0)
    system.addForce(bonds)
    positions = [openmm.Vec3(0.15 * i, 0.1 * (i % 2), 0.05 * (i % 3)) for i in range(6)] * unit.nanometer
    return system, positions


def configure(integrator):
    integrator.setBeadAssignment([0, 0, 1, 1, 2, 2])
    integrator.setAtomBonds([(i, i + 1) for i in range(5)])
    return integrator


@pytest.fixture
def one_torch_thread():
    """Small networks run fastest, and timings stay comparable, on one torch thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def alanine(tmp_path_factory):
    """A tiny alanine-dipeptide kinetics dataset: 4 validation replicas of 40 ps in vacuum."""
    from openmm_cgml.cli import main as cgml
    from openmm_cgml.systems.peptides import shipped_pdb

    data = tmp_path_factory.mktemp("alanine") / "data"
    assert cgml(["reference", "pdb", str(shipped_pdb()), "--out", str(data), "--runs", "5", "--validation-runs", "4",
                 "--test-runs", "0", "--environment", "vacuum", "--temperature-k", "500", "--production-ps", "40",
                 "--save-interval-ps", "1", "--equilibration-ps", "4", "--processes", "1", "--platform", "Reference"]) == 0
    return data
