"""The networks: E(3) and permutation equivariance, neighbour search, TorchScript and freezing."""
import math

import pytest
import torch

from openmm_cgml.nn import (AtomEmbedding, BeadDynamics, ModelConfig, Propagator, ScoreNet, bead_graph, bond_hops,
                            radius_graph)
from openmm_cgml.nn.neighbors import VerletList, bond_keys

PRESERVED = ["embed", "step", "history_length", "timestep_ps"]
HIDDEN = 16


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def orthogonal(seed: int, reflect: bool) -> torch.Tensor:
    q, r = torch.linalg.qr(torch.randn(3, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(seed)))
    q = q * torch.sign(torch.diagonal(r))
    if (torch.det(q) < 0) != reflect:
        q = q * torch.tensor([1.0, 1.0, -1.0], dtype=torch.float64)
    return q


TRANSFORMS = [pytest.param(orthogonal(1, False), id="rotation"), pytest.param(orthogonal(2, True), id="reflection"),
              pytest.param(torch.eye(3, dtype=torch.float64), id="translation")]
SHIFT = torch.tensor([3.0, -1.5, 0.7], dtype=torch.float64)


def chain(n_beads: int = 12, k: int = 3, seed: int = 0):
    """A wiggly bead chain with history (k, n, 3), its bonds, and two atoms per bead."""
    g = torch.Generator().manual_seed(seed)
    steps = torch.randn(n_beads, 3, dtype=torch.float64, generator=g)
    x = torch.cumsum(0.38 * steps / steps.norm(dim=1, keepdim=True), 0)
    history = x + torch.cumsum(0.05 * torch.randn(k, n_beads, 3, dtype=torch.float64, generator=g), 0)
    bonds = torch.stack([torch.arange(n_beads - 1), torch.arange(1, n_beads)])
    n_atoms = 2 * n_beads
    features = torch.stack([torch.randint(1, 9, (n_atoms,), generator=g), torch.randint(1, 4, (n_atoms,), generator=g)], 1)
    atom_bonds = torch.stack([torch.arange(n_atoms - 1), torch.arange(1, n_atoms)])
    masses = 1.0 + 15.0 * torch.rand(n_atoms, dtype=torch.float64, generator=g)
    return history, bonds, (features, atom_bonds, torch.arange(n_atoms) // 2, masses)


def model(k: int = 3, **settings) -> Propagator:
    torch.manual_seed(0)
    m = Propagator(ModelConfig(history_length=k, hidden=HIDDEN, **settings)).double().eval()
    m.set_scales(1.0, 1.0)  # outputs in network units, so that the tolerances below are relative
    return m


# ------------------------------------------------------------------------------ neighbour search

def brute(pos, cutoff, batch):
    d = (pos[:, None] - pos[None]).norm(dim=-1)
    close = (d < cutoff) & (batch[:, None] == batch[None]) & ~torch.eye(len(pos), dtype=torch.bool)
    return {tuple(e) for e in close.nonzero().tolist()}


@pytest.mark.parametrize("n", [50, 900])
def test_radius_graph_methods_agree(n):
    g = torch.Generator().manual_seed(n)
    pos = torch.rand(n, 3, dtype=torch.float64, generator=g) * 4.0
    batch = torch.sort(torch.randint(0, 3, (n,), generator=g))[0]
    dense = radius_graph(pos, 0.7, batch, brute_force_max=10 ** 9)
    cells = radius_graph(pos, 0.7, batch, brute_force_max=0)
    assert torch.equal(dense, cells)
    assert {tuple(e) for e in dense.t().tolist()} == brute(pos, 0.7, batch)
    assert bool((batch[dense[0]] == batch[dense[1]]).all())  # graphs of a batch never joined
    few = radius_graph(pos, 0.7, batch, max_neighbors=3, brute_force_max=0)
    assert torch.bincount(few[0]).max() <= 3
    assert torch.equal(few, radius_graph(pos, 0.7, batch, max_neighbors=3, brute_force_max=10 ** 9))
    distance = (pos[dense[0]] - pos[dense[1]]).norm(dim=1)
    for i in range(n):  # the kept senders are the nearest 3 of each receiver
        kept = few[1][few[0] == i].tolist()
        nearest = dense[1][dense[0] == i][torch.argsort(distance[dense[0] == i])][:3].tolist()
        assert sorted(kept) == sorted(nearest)


@pytest.mark.parametrize("n", [40, 600])
def test_verlet_list_equals_radius_graph(n):
    """Points that drift as the score refinement moves them: the list gives radius_graph's edges, in
    its order, at every call, and is rebuilt only after some point has moved more than half the skin."""
    g = torch.Generator().manual_seed(n)
    pos = torch.rand(n, 3, dtype=torch.float64, generator=g) * 3.0
    near = VerletList(0.7, 0.2, 6, 256)  # scripted inside every Propagator (test_script_and_freeze)
    no_bonds = torch.zeros(0, dtype=torch.long)
    start = pos
    for call in range(12):
        assert torch.equal(near.graph(pos, no_bonds)[0], radius_graph(pos, 0.7, None, 6))
        moved = float((pos - start).norm(dim=1).max())
        assert near.builds == 1 + (moved > 0.1) * (near.builds - 1)  # no rebuild while nothing moved 0.1 nm
        pos = pos + 0.01 * torch.randn(n, 3, dtype=torch.float64, generator=g)
    assert near.builds > 1  # the random walk carried some point past half the skin


@pytest.mark.parametrize("max_neighbors", [6, 200])
def test_verlet_graph_equals_bead_graph(max_neighbors):
    """The score calls' graph (candidates joined with the bonds once per build, the neighbour limit
    skipped while it cannot act) equals the bead graph made afresh, edges and flags in its order, at
    every call: crowded (limit 6, the fallback) or not (limit 200, the fast path); a bond longer than
    the cutoff included."""
    n = 60
    g = torch.Generator().manual_seed(3)
    pos = torch.rand(n, 3, dtype=torch.float64, generator=g) * 3.0
    bonds = torch.stack([torch.arange(n - 1), torch.arange(1, n)])
    far = int((pos - pos[0]).norm(dim=1).argmax())
    bonds = torch.cat([bonds, torch.tensor([[0], [far]])], 1)  # a bond far longer than the cutoff
    bonded = bond_keys(bonds, n)
    near = VerletList(0.7, 0.2, max_neighbors, 256)
    for call in range(12):
        edges, flags = near.graph(pos, bonded)
        expected_edges, expected_flags = bead_graph(pos, bonds, 0.7, None, max_neighbors)
        assert torch.equal(edges, expected_edges) and torch.equal(flags, expected_flags)
        assert near.crowded == (max_neighbors == 6)
        pos = pos + 0.01 * torch.randn(n, 3, dtype=torch.float64, generator=g)
    assert near.builds > 1
    assert float((pos[0] - pos[far]).norm()) > 0.7 + 0.2  # outside the candidates' range


def test_bond_hops_are_shortest_paths():
    bonds = torch.tensor([[0, 1, 2, 3, 1, 6], [1, 2, 3, 4, 5, 7]])  # a branched chain and a separate pair
    edges, hops = bond_hops(bonds, 8, 3)
    adjacency = {i: set() for i in range(8)}
    for a, b in bonds.t().tolist():
        adjacency[a].add(b)
        adjacency[b].add(a)
    expected = {}
    for start in range(8):
        seen, frontier = {start}, {start}
        for hop in range(1, 4):
            frontier = {j for i in frontier for j in adjacency[i]} - seen
            seen |= frontier
            expected.update({(start, j): hop for j in frontier})
    assert dict(zip(map(tuple, edges.t().tolist()), hops.tolist())) == expected


def test_bead_graph_flags_bonds_at_any_length():
    pos = torch.tensor([[0.0, 0, 0], [0.5, 0, 0], [5.0, 0, 0]], dtype=torch.float64)
    edges, is_bond = bead_graph(pos, torch.tensor([[2], [1]]), 1.0)
    assert dict(zip(map(tuple, edges.t().tolist()), is_bond.tolist())) == {
        (0, 1): 0.0, (1, 0): 0.0, (1, 2): 1.0, (2, 1): 1.0}


# ----------------------------------------------------------------------------------- equivariance

@pytest.mark.parametrize("k", [1, 3])
@pytest.mark.parametrize("q", TRANSFORMS)
def test_dynamics_equivariant(q, k):
    m = model(k)
    history, bonds, atoms = chain(k=k)
    embedding = m.embed(*atoms)
    mean, accel, std, latent = m.predict(embedding, history, bonds, None)
    mean2, accel2, std2, latent2 = m.predict(embedding, history @ q.T + SHIFT, bonds, None)
    assert torch.allclose(accel2, accel @ q.T, atol=1e-5)
    assert torch.allclose(mean2, mean @ q.T + SHIFT, atol=1e-5)
    assert torch.allclose(std2, std, atol=1e-5) and torch.allclose(latent2, latent, atol=1e-5)
    assert float(accel.detach().abs().max()) > 1e-6  # not trivially zero


@pytest.mark.parametrize("q", TRANSFORMS)
def test_score_equivariant(q):
    m = model(3)
    history, bonds, atoms = chain()
    mean, _, std, latent = m.predict(m.embed(*atoms), history, bonds, None)
    noisy = mean + 0.05 * torch.randn(mean.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    sigma = torch.full((mean.shape[0],), 0.02, dtype=torch.float64)
    score = m.score_at(noisy, sigma, history[-1], mean, std, latent, bonds, None)
    moved = [t @ q.T + SHIFT for t in (noisy, history[-1], mean)]
    score2 = m.score_at(moved[0], sigma, moved[1], moved[2], std, latent, bonds, None)
    assert torch.allclose(score2, score @ q.T, atol=1e-5 * float(score.detach().abs().max()))
    assert float(score.detach().abs().max()) > 1e-3


@pytest.mark.parametrize("q", TRANSFORMS)
def test_step_equivariant_without_noise(q):
    """The whole step with the Gaussian noise turned off (std floor 0 and zero spread head)."""
    m = model(3, min_std=0.0)
    torch.nn.init.constant_(m.dynamics.std_out[-1].bias, -80.0)  # softplus(-80) ≈ 0: deterministic sample
    torch.nn.init.zeros_(m.dynamics.std_out[-1].weight)
    history, bonds, atoms = chain()
    embedding = m.embed(*atoms)
    out = m.step(embedding, history, bonds)
    out2 = m.step(embedding, history @ q.T + SHIFT, bonds)
    assert torch.allclose(out2, out @ q.T + SHIFT, atol=1e-5)


def test_embedding_invariant_and_permutation_equivariant():
    m = model(3)
    history, bonds, (features, atom_bonds, bead_of_atom, masses) = chain()
    embedding = m.embed(features, atom_bonds, bead_of_atom, masses)
    # Relabel atoms and beads: the bead embeddings follow the bead labels.
    atom_perm = torch.randperm(len(masses), generator=torch.Generator().manual_seed(4))
    bead_perm = torch.randperm(embedding.shape[0], generator=torch.Generator().manual_seed(5))
    atom_new = torch.argsort(atom_perm)  # new index of old atom i
    bead_new = torch.argsort(bead_perm)
    embedding2 = m.embed(features[atom_perm], atom_new[atom_bonds].flip(0), bead_new[bead_of_atom[atom_perm]],
                         masses[atom_perm])
    assert torch.allclose(embedding2, embedding[bead_perm], atol=1e-5)


def test_dynamics_and_score_permutation_equivariant():
    m = model(3)
    history, bonds, atoms = chain()
    embedding = m.embed(*atoms)
    perm = torch.randperm(history.shape[1], generator=torch.Generator().manual_seed(6))
    new = torch.argsort(perm)
    mean, _, std, latent = m.predict(embedding, history, bonds, None)
    mean2, _, std2, latent2 = m.predict(embedding[perm], history[:, perm], new[bonds], None)
    assert torch.allclose(mean2, mean[perm], atol=1e-5) and torch.allclose(std2, std[perm], atol=1e-5)
    sigma = torch.full((mean.shape[0],), 0.03, dtype=torch.float64)
    noisy = mean + 0.04
    score = m.score_at(noisy, sigma, history[-1], mean, std, latent, bonds, None)
    score2 = m.score_at(noisy[perm], sigma, history[-1, perm], mean2, std2, latent2, new[bonds], None)
    assert torch.allclose(score2, score[perm], atol=1e-5 * float(score.detach().abs().max()))


def test_batched_graphs_do_not_interact():
    """Two windows in one batch give the same predictions as each window alone."""
    m = model(3)
    h1, b1, a1 = chain(seed=1)
    h2, b2, a2 = chain(seed=2)
    h2 = h2 - h2.mean((0, 1)) + h1[-1].mean(0)  # overlapping in space: only `batch` separates them
    e1, e2 = m.embed(*a1), m.embed(*a2)
    n = h1.shape[1]
    batch = torch.cat([torch.zeros(n, dtype=torch.long), torch.ones(n, dtype=torch.long)])
    together = m.predict(torch.cat([e1, e2]), torch.cat([h1, h2], 1), torch.cat([b1, b2 + n], 1), batch)[1]
    alone = torch.cat([m.predict(e1, h1, b1, None)[1], m.predict(e2, h2, b2, None)[1]])
    assert torch.allclose(together, alone, atol=1e-8)


# -------------------------------------------------------------------------------- TorchScript

def test_each_network_scripts():
    torch.jit.script(AtomEmbedding(HIDDEN))
    torch.jit.script(BeadDynamics(HIDDEN, 3))
    torch.jit.script(ScoreNet(HIDDEN, HIDDEN + 1, 2))
    for function in (radius_graph, bond_hops, bead_graph):
        torch.jit.script(function)


@pytest.mark.filterwarnings("ignore:`torch.jit.freeze` is deprecated:DeprecationWarning")
@pytest.mark.parametrize("k, max_neighbors, score_noise, sampler",
                         [(1, -1, False, "refine"), (4, 8, False, "refine"), (2, -1, True, "refine"), (2, 8, False, "diffusion"),
                          (2, -1, False, "diffusion+correctors")])
def test_propagator_scripts_freezes_and_keeps_contract(k, max_neighbors, score_noise, sampler):
    torch.manual_seed(0)
    sampler, _, correctors = sampler.partition("+")
    eager = Propagator(ModelConfig(history_length=k, hidden=HIDDEN, timestep_ps=2.5, max_neighbors=max_neighbors,
                                   score_noise=score_noise, score_sampler=sampler,
                                   score_correctors=[0, 2] if correctors else [])).eval()
    scripted = torch.jit.script(eager)
    frozen = torch.jit.freeze(scripted.eval(), preserved_attrs=PRESERVED)
    assert (frozen.history_length, frozen.timestep_ps) == (k, 2.5)
    history, bonds, atoms = chain(n_beads=30, k=k)
    embedding = eager.embed(*atoms)
    assert embedding.shape == (30, HIDDEN)
    assert torch.allclose(frozen.embed(*atoms), embedding, atol=1e-6)
    outputs = []
    for module in (eager, scripted, frozen):
        torch.manual_seed(7)
        with torch.no_grad():
            outputs.append(module.step(embedding, history, bonds))
    assert outputs[0].dtype == torch.float64 and outputs[0].shape == (30, 3)
    assert bool(torch.isfinite(outputs[0]).all())
    assert torch.allclose(outputs[1], outputs[0], atol=1e-6) and torch.allclose(outputs[2], outputs[0], atol=1e-6)


def test_step_from_one_repeated_frame_and_colliding_beads():
    """A fresh history (k copies of one frame) with two beads on top of each other stays finite."""
    m = Propagator(ModelConfig(history_length=3, hidden=HIDDEN)).eval()
    history, bonds, atoms = chain(k=1)
    x = history[0].clone()
    x[1] = x[0]
    with torch.no_grad():
        out = m.step(m.embed(*atoms), x.expand(3, -1, -1), bonds)
    assert bool(torch.isfinite(out).all())


def test_sigma_ladder():
    assert ModelConfig(score_calls=0).sigma_ladder() == []
    ladder = ModelConfig(score_calls=4, score_sigma_max=0.8, score_sigma_min=0.1).sigma_ladder()
    assert len(ladder) == 4 and ladder[0] == pytest.approx(0.8) and ladder[-1] == pytest.approx(0.1)
    assert all(a > b for a, b in zip(ladder, ladder[1:]))
    assert math.isclose(ladder[1] / ladder[0], ladder[2] / ladder[1])


# ------------------------------------------------------------- the step against its plain formulas
# Propagator.step is arranged for speed (graphs merged with the bonds by search, the score calls'
# graphs filtered from one list joined with the bonds, the three filters of a block in one product).  The networks
# written out plainly here, from the same parameters, must give the same next positions.

def reference_graph(pos, bonds, cutoff, max_neighbors):
    """Pairs closer than the cutoff (the nearest ``max_neighbors`` per receiver) plus both
    directions of every bond, sorted; and the bond flags."""
    n = pos.shape[0]
    d = (pos[:, None] - pos[None]).norm(dim=-1)
    flags = {}
    for i in range(n):
        near = sorted((j for j in range(n) if j != i and d[i, j] < cutoff), key=lambda j: float(d[i, j]))
        for j in near[:max_neighbors] if max_neighbors > 0 else near:
            flags[(i, j)] = 0.0
    for i, j in bonds.t().tolist():
        if i != j:
            flags[(i, j)] = flags[(j, i)] = 1.0
    keys = sorted(flags)
    return torch.tensor(keys).t(), torch.tensor([flags[key] for key in keys], dtype=pos.dtype)


def reference_edges(encoder, vectors, is_bond):
    r = torch.sqrt((vectors * vectors).sum(-1) + 1e-8)
    basis = torch.exp(-0.5 * ((r[:, None] - encoder.basis.centres) * encoder.basis.inverse_width) ** 2)
    cutoff = encoder.envelope.cutoff
    envelope = 0.5 * (torch.cos(r * math.pi / cutoff) + 1.0) * (r < cutoff)
    return torch.cat([basis, is_bond[:, None]], 1), torch.maximum(envelope, is_bond)[:, None], vectors / r[:, None]


def reference_blocks(blocks, s, v, edge_index, features, weight, unit, scale):
    receiver, sender = edge_index
    for block in blocks:
        message, update = block.message, block.update
        h = message.hidden
        x = message.phi(s)[sender] * ((features * (weight * scale)) @ message.filter.weight.T)
        ds, dvv, dvr = x[:, :h], x[:, h:2 * h], x[:, 2 * h:]
        s = s.index_add(0, receiver, ds)
        v = v.index_add(0, receiver, dvv[:, None] * v[sender] + dvr[:, None] * unit[:, :, None])
        s = block.layer_norm(s)
        uv, wv = v @ update.u.weight.T, v @ update.w.weight.T
        a_vv, a_sv, a_ss = update.gates(torch.cat([s, torch.sqrt((wv * wv).sum(1) + 1e-8)], -1)).split(h, -1)
        s, v = s + a_ss + a_sv * (uv * wv).sum(1), v + a_vv[:, None] * uv
    return s, v


def reference_output(out, s, v):
    mixed = v @ out.mix.weight.T
    gate = out.gate(torch.cat([s, torch.sqrt((mixed * mixed).sum(1) + 1e-8)], -1))
    return ((gate[:, None] * mixed) @ out.out.weight.T)[..., 0]


def reference_step(m, embedding, history, bonds):
    """Propagator.step for float64 parameters and k > 1, written out plainly."""
    net, score = m.dynamics, m.score
    x = history[-1]
    edge_index, is_bond = reference_graph(x, bonds, m.cutoff_nm, m.max_neighbors)
    features, weight, unit = reference_edges(net.edges, x[edge_index[1]] - x[edge_index[0]], is_bond)
    d = ((history[1:] - history[:-1]) / net.displacement_scale).permute(1, 2, 0)
    s = net.embedding_in(embedding) + net.gram_in(torch.einsum("nxa,nxb->nab", d, d).reshape(x.shape[0], -1))
    s, v = reference_blocks(net.blocks, s, net.vectors_in(d), edge_index, features, weight, unit, net.message_scale)
    acceleration = reference_output(net.mean_out, s, v) * net.acceleration_scale
    std = (torch.nn.functional.softplus(net.std_out(s)[:, 0]) + net.min_std) * net.acceleration_scale
    mean = x + acceleration + (x - history[-2])
    positions = mean + std[:, None] * torch.randn(x.shape, dtype=x.dtype)
    scale = score.length_scale
    conditioning = torch.cat([s, torch.log(std / scale)[:, None]], 1)
    for fraction in m.score_sigmas:
        sigma = (scale * fraction).expand(x.shape[0])
        edge_index, is_bond = reference_graph(positions, bonds, m.cutoff_nm, m.max_neighbors)
        relative = positions[edge_index[1]] - positions[edge_index[0]]
        features, weight, unit = reference_edges(score.edges, relative, is_bond)
        spread = torch.sqrt(std * std + sigma ** 2)[:, None]
        vectors = torch.stack([(positions - mean) / spread, (positions - x) / scale], -1)
        h = score.scalars_in(torch.cat([conditioning, torch.log(sigma / scale)[:, None]], 1))
        h, v = reference_blocks(score.blocks, h, score.vectors_in(vectors), edge_index, features, weight, unit,
                                 score.message_scale)
        noise = reference_output(score.noise_out, h, v)
        positions = positions + m.score_step * (sigma * sigma)[:, None] * (-noise / sigma[:, None])
    return positions


@pytest.mark.filterwarnings("ignore:`torch.jit.freeze` is deprecated:DeprecationWarning")
@pytest.mark.parametrize("max_neighbors, edge_chunk", [(-1, None), (5, 16)])
def test_step_matches_plain_formulas(max_neighbors, edge_chunk):
    """A seeded step, eager and frozen, equals the plain formulas to 1e-10 nm in float64; with
    crowded beads (some have more than ``max_neighbors`` within the cutoff), a bond longer than the
    cutoff, and messages summed over edges in one chunk or in many, so that every path runs."""
    m = model(3, max_neighbors=max_neighbors, score_sigma_max=0.2, score_sigma_min=0.05)
    for module in m.modules():
        if edge_chunk is not None and hasattr(module, "edge_chunk"):
            module.edge_chunk = edge_chunk
    history, bonds, atoms = chain(n_beads=30, seed=7)
    bonds = torch.cat([bonds, torch.tensor([[0], [29]])], 1)
    x = history[-1]
    assert float((x[0] - x[29]).norm()) > m.cutoff_nm
    assert int(((x[:, None] - x[None]).norm(dim=-1) < m.cutoff_nm).sum(1).max()) - 1 > 5
    frozen = torch.jit.freeze(torch.jit.script(m), preserved_attrs=PRESERVED)
    with torch.no_grad():
        embedding = m.embed(*atoms)
        torch.manual_seed(11)
        expected = reference_step(m, embedding, history, bonds)
        for module in (m, frozen):
            torch.manual_seed(11)
            out = module.step(embedding, history, bonds)
            assert float((out - expected).abs().max()) < 1e-10
    assert float((expected - x).abs().max()) > 1e-3  # the step moved the beads
