"""Bad input gives an exception that names the problem and leaves the Context as it was."""
import numpy as np
import openmm
import pytest
import torch
from conftest import configure

from openmm_cgml import CGMLIntegrator
from openmm_cgml.bundle import save_bundle
from openmm_cgml.standins import UniformDrift


class BadStep(UniformDrift):
    def __init__(self, mode: int):
        super().__init__(timestep_ps=1.0)
        self.mode = mode

    @torch.jit.export
    def step(self, bead_embedding: torch.Tensor, history: torch.Tensor, bead_bonds: torch.Tensor,
             generator: torch.Generator) -> torch.Tensor:
        x = history[-1]
        if self.mode == 0:
            return x[:2]
        if self.mode == 1:
            return x * float("nan")
        if self.mode == 2:
            return x / 0.0
        return x.to(torch.int64)


class NoEmbed(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.history_length = 1
        self.timestep_ps = 1.0

    @torch.jit.export
    def step(self, bead_embedding: torch.Tensor, history: torch.Tensor, bead_bonds: torch.Tensor) -> torch.Tensor:
        return history[-1]


def test_missing_file():
    with pytest.raises(Exception, match="cannot open bundle file '/no/such/model.pt'"):
        CGMLIntegrator("/no/such/model.pt", 1.0)


def test_not_torchscript(tmp_path):
    path = tmp_path / "model.pt"
    path.write_text("not a model")
    with pytest.raises(Exception, match="is not a TorchScript bundle"):
        CGMLIntegrator(path, 1.0)


def test_module_without_embed(tmp_path):
    path = tmp_path / "noembed.pt"
    torch.jit.save(torch.jit.script(NoEmbed()), str(path))
    with pytest.raises(Exception, match="no method 'embed'"):
        CGMLIntegrator(path, 1.0)


@pytest.mark.parametrize("step", [0.0, -1.0])
def test_step_size_not_positive(drift_bundle, step):
    with pytest.raises(Exception, match="step size must be positive"):
        CGMLIntegrator(drift_bundle, step)


def test_step_size_not_the_trained_one(drift_bundle):
    with pytest.raises(Exception, match="does not match the bundle's CG step 2 ps"):
        CGMLIntegrator(drift_bundle, 1.0)


@pytest.mark.parametrize("beads, message", [
    ([0, 0, 1, 1, 2], "5 entries but the System has 6 particles"),
    ([0, 0, 2, 2, 3, 3], "no particle is in bead 1"),
])
def test_bad_bead_assignment(drift_bundle, six_particles, beads, message):
    system, _ = six_particles
    integrator = CGMLIntegrator(drift_bundle, 2.0)
    integrator.setBeadAssignment(beads)
    with pytest.raises(Exception, match=message):
        openmm.Context(system, integrator, openmm.Platform.getPlatformByName("Reference"))


def test_bead_of_zero_mass(drift_bundle):
    system = openmm.System()
    system.addParticle(0.0)
    system.addParticle(1.0)
    with pytest.raises(Exception, match="bead 0 has zero total mass"):
        openmm.Context(system, CGMLIntegrator(drift_bundle, 2.0), openmm.Platform.getPlatformByName("Reference"))


def test_settings_locked_once_bound(drift_bundle, six_particles):
    system, positions = six_particles
    integrator = configure(CGMLIntegrator(drift_bundle, 2.0))
    context = openmm.Context(system, integrator, openmm.Platform.getPlatformByName("Reference"))
    with pytest.raises(Exception, match="cannot change once a Context uses the integrator"):
        integrator.setBeadAssignment([0] * 6)


@pytest.mark.parametrize("mode, message", [(0, r"returned shape \[2, 3\], expected \(3, 3\)"),
                                           (1, "NaN or infinite"), (2, "NaN or infinite"),
                                           (3, "expected floating point")])
def test_failed_step_keeps_positions(tmp_path, six_particles, platform, mode, message):
    system, positions = six_particles
    bundle = save_bundle(BadStep(mode), tmp_path / "bad.pt")
    integrator = configure(CGMLIntegrator(bundle, 1.0))
    context = openmm.Context(system, integrator, platform)
    context.setPositions(positions)
    before = context.getState(getPositions=True).getPositions(asNumpy=True)._value
    with pytest.raises(Exception, match=message):
        integrator.step(1)
    after = context.getState(getPositions=True)
    assert np.array_equal(before, after.getPositions(asNumpy=True)._value)
    assert after.getStepCount() == 0
