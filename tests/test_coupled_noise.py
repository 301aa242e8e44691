"""Noise coupled along the CG bonds (nn/noise.py): the sample, its exact density, and its use in
the propagator and in training."""
import math

import pytest
import torch

from openmm_cgml.bundle import load_bundle
from openmm_cgml.export import propagator_of
from openmm_cgml.nn import ModelConfig, Propagator
from openmm_cgml.nn.neighbors import bond_keys
from openmm_cgml.nn.noise import CoupledNoise, normalised_adjacency
from openmm_cgml.train import Objective
from openmm_cgml.config import TrainConfig

from test_nn import chain

# Two molecules and a lone bead, beads of a molecule contiguous: a chain of 5, a star of 4.
BONDS = torch.tensor([[0, 1, 2, 3, 5, 5, 5], [1, 2, 3, 4, 6, 7, 8]])
GRAPH = torch.tensor([0] * 5 + [1] * 4 + [2])
N = 10


def coupled(coefficients) -> CoupledNoise:
    noise = CoupledNoise(len(coefficients) - 1).double()
    with torch.no_grad():
        noise.coefficients.copy_(torch.tensor(coefficients, dtype=torch.float64))
    return noise


def dense_filter(coefficients) -> torch.Tensor:
    """P(M) as a dense matrix, from the definition (M from the bond list, Chebyshev recursion)."""
    adjacency = torch.zeros(N, N, dtype=torch.float64)
    adjacency[BONDS[0], BONDS[1]] = adjacency[BONDS[1], BONDS[0]] = 1.0
    degree = adjacency.sum(1)
    scale = torch.where(degree > 0, degree.clamp_min(1).rsqrt(), torch.zeros_like(degree))
    m = scale[:, None] * adjacency * scale[None]
    powers = [torch.eye(N, dtype=torch.float64), m]
    while len(powers) < len(coefficients):
        powers.append(2 * m @ powers[-1] - powers[-2])
    return sum(c * p for c, p in zip(coefficients, powers))


def test_normalised_adjacency_has_its_spectrum_in_minus_one_one():
    receiver, sender, weight = normalised_adjacency(bond_keys(BONDS, N), N, torch.float64)
    m = torch.zeros(N, N, dtype=torch.float64)
    m[receiver, sender] = weight
    eigenvalues = torch.linalg.eigvalsh(m)
    assert torch.allclose(m, m.T) and eigenvalues.min() >= -1 - 1e-12 and eigenvalues.max() <= 1 + 1e-12
    assert eigenvalues.max() == pytest.approx(1.0)  # every connected molecule has eigenvalue 1 (its translation)


@pytest.mark.parametrize("coefficients", [[1.0, 0.4], [0.9, 0.5, -0.2, 0.1], [1.3, 0.0, 0.0, 0.0, -0.3]])
def test_sample_and_density_are_those_of_the_stated_covariance(coefficients):
    noise = coupled(coefficients)
    p = dense_filter(coefficients)
    xi = torch.randn(N, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    assert torch.allclose(noise(xi, bond_keys(BONDS, N)), p @ xi, atol=1e-12)
    assert torch.allclose(torch.jit.script(noise)(xi, bond_keys(BONDS, N)), p @ xi, atol=1e-12)
    spread = 0.5 + torch.rand(N, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    residual = torch.randn(N, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    covariance = torch.diag(spread) @ p @ p @ torch.diag(spread)
    gaussian = torch.distributions.MultivariateNormal(torch.zeros(N, dtype=torch.float64), covariance)
    expected = -sum(gaussian.log_prob(residual[:, axis]) for axis in range(3))
    quadratic, log_det = noise.whitened(residual / spread[:, None], BONDS, GRAPH, 3)
    found = 0.5 * quadratic + 3 * torch.log(spread).sum() + 3 * log_det + 1.5 * N * math.log(2 * math.pi)
    assert found.item() == pytest.approx(expected.item(), rel=1e-10)


def test_maximum_likelihood_recovers_the_coupling_of_correlated_samples():
    truth = [1.0, 0.6, -0.1]
    p = dense_filter(truth)
    samples = p @ torch.randn(2000, N, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    z = samples.permute(1, 0, 2).reshape(N, -1)  # 2000 draws as extra axes of the same molecules
    noise = CoupledNoise(2).double()
    optimiser = torch.optim.Adam(noise.parameters(), lr=0.05)
    for _ in range(200):
        optimiser.zero_grad()
        quadratic, log_det = noise.whitened(z, BONDS, GRAPH, 3)
        loss = (0.5 * quadratic + z.shape[1] * log_det) / z.numel()
        loss.backward()
        optimiser.step()
    assert noise.coefficients.detach().tolist() == pytest.approx(truth, abs=0.03)


def test_degree_zero_is_independent_noise_and_old_bundles_keep_their_state():
    noise = CoupledNoise(0)
    xi = torch.randn(N, 3, dtype=torch.float64)
    assert noise(xi, bond_keys(BONDS, N)) is xi and list(noise.state_dict()) == []
    module, metadata = load_bundle("openmm_cgml/models/peptide.pt", current=False)
    assert propagator_of(module, metadata).noise.degree == 0


def test_propagator_with_coupled_noise_scripts_and_draws_only_from_the_generator():
    history, bonds, atoms = chain(12, 3)
    torch.manual_seed(0)
    model = Propagator(ModelConfig(history_length=3, hidden=8, noise_degree=3, score_calls=0)).double().eval()
    with torch.no_grad():
        model.noise.coefficients.copy_(torch.tensor([1.0, 0.5, 0.0, -0.1]))
    scripted = torch.jit.script(model)
    embedding = scripted.embed(*atoms)
    first = scripted.step(embedding, history, bonds, torch.Generator().manual_seed(5))
    again = scripted.step(embedding, history, bonds, torch.Generator().manual_seed(5))
    mean, _, std, _ = model.predict(embedding, history, bonds, None)
    xi = torch.randn(history.shape[1:], dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    expected = mean + std[:, None] * model.noise(xi, bond_keys(bonds, history.shape[1]))
    assert torch.equal(first, again) and torch.allclose(first, expected, atol=1e-12)


def test_objective_uses_the_coupled_density():
    """The training NLL of a coupled model equals the multivariate normal's, per bead and axis."""
    history, bonds, atoms = chain(12, 3)
    torch.manual_seed(0)
    model = Propagator(ModelConfig(history_length=3, hidden=8, noise_degree=2)).double()
    with torch.no_grad():
        model.noise.coefficients.copy_(torch.tensor([1.0, 0.3, -0.2]))
    target = history[-1] + 0.05 * torch.randn(12, 3, dtype=torch.float64)
    graph = torch.zeros(12, dtype=torch.int64)
    losses = Objective(model, TrainConfig(score_weight=0.0))(*atoms, bonds, graph, history, target, 1, False)
    embedding = model.embed(*atoms)
    mean, _, std, _ = model.predict(embedding, history, bonds, graph)
    p = dense_filter_of(model, bonds, 12)
    scale = model.dynamics.acceleration_scale.double()
    covariance = torch.diag(std / scale) @ p @ p @ torch.diag(std / scale)
    gaussian = torch.distributions.MultivariateNormal(torch.zeros(12, dtype=torch.float64), covariance)
    residual = (target - mean) / scale
    expected = -sum(gaussian.log_prob(residual[:, axis]) for axis in range(3)) / 36
    assert losses[1].item() == pytest.approx(expected.item(), rel=1e-9)


def dense_filter_of(model: Propagator, bonds: torch.Tensor, n: int) -> torch.Tensor:
    """P(M) of ``model`` on ``bonds`` column by column (the filter is linear)."""
    keys = bond_keys(bonds, n)
    eye = torch.eye(n, dtype=torch.float64)
    return torch.stack([model.noise(eye[:, i:i + 1].expand(n, 3).contiguous(), keys)[:, 0] for i in range(n)], 1)
