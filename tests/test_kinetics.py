"""Kinetics estimators against hand-built geometries and a two-state process of known rates."""
import numpy as np
import pytest

from openmm_cgml.benchmark import kinetics

DT = 0.5  # ps per frame
P01, P10 = 0.02, 0.01  # switching probabilities per frame
K01, K10 = P01 / DT, P10 / DT  # 0.04 and 0.02 per ps


def telegraph(n_frames, rng):
    """A frame-level two-state Markov chain (switch 0 -> 1 with P01, 1 -> 0 with P10 per frame),
    started from its stationary distribution; built from geometric dwell times."""
    state = int(rng.random() < P01 / (P01 + P10))
    pieces, total = [], 0
    while total < n_frames:
        dwell = int(rng.geometric(P01 if state == 0 else P10))
        pieces.append(np.full(dwell, state))
        total, state = total + dwell, 1 - state
    return np.concatenate(pieces)[:n_frames]


@pytest.fixture(scope="module")
def replicas():
    """Eight runs of 25 000 frames: the chain's states and phi near -2.0 (state 0) or 1.0 (state 1)."""
    rng = np.random.default_rng(12)
    chains = [telegraph(25_000, rng) for _ in range(8)]
    phis = [np.where(c == 0, -2.0, 1.0) + 0.1 * rng.normal(size=c.size) for c in chains]
    return chains, phis


def quadruple_frame(theta):
    """Atoms 0-1-2-3 with the 1-2 bond along z; atom 3 turned by theta about z from atom 0."""
    return np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.15],
                     [np.cos(theta), np.sin(theta), 0.15]])


def test_dihedrals_of_hand_built_geometries():
    # Viewed along 1 -> 2 (looking down +z), atom 3 turned by +theta about z (counter-clockwise seen
    # from +z) appears clockwise from atom 0: IUPAC calls that a positive torsion.
    degrees = np.array([60.0, -60.0, 180.0, 0.0, 120.0, -150.0])
    x = np.stack([quadruple_frame(np.radians(d)) for d in degrees])
    angles = kinetics.dihedrals(x, [(0, 1, 2, 3)])
    assert angles.shape == (6, 1)
    assert np.degrees(angles[:, 0]) == pytest.approx(degrees, abs=1e-9)
    assert angles[2, 0] == pytest.approx(np.pi) and angles[2, 0] > 0  # trans is +pi, never -pi
    # rigid motions keep it; a mirror image flips its sign; a reversed quadruple keeps it
    c, s = np.cos(0.7), np.sin(0.7)
    rotation = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]) @ np.array(
        [[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])
    moved = x @ rotation.T + np.array([0.3, -1.0, 2.0])
    assert kinetics.dihedrals(moved, [(0, 1, 2, 3)]) == pytest.approx(angles, abs=1e-9)
    mirrored = x * np.array([1.0, -1.0, 1.0])
    assert kinetics.dihedrals(mirrored[:2], [(0, 1, 2, 3)])[:, 0] == pytest.approx(-angles[:2, 0])
    assert kinetics.dihedrals(x, [(3, 2, 1, 0), (0, 1, 2, 3)]) == pytest.approx(np.hstack([angles, angles]))
    with pytest.raises(ValueError, match="^dihedrals: "):
        kinetics.dihedrals(x, [(0, 1, 2, 4)])


def test_ramachandran_histogram_and_js():
    h = kinetics.ramachandran_histogram(np.array([-2.0, -2.0, 1.0]), np.array([1.0, 1.0, -1.0]))
    assert h.shape == (36, 36) and h.sum() == pytest.approx(1.0)
    # bin i = floor((angle + pi) / (2 pi) * 36): phi -2.0 -> 6, psi 1.0 -> 23; phi 1.0 -> 23, psi -1.0 -> 12
    assert h[6, 23] == pytest.approx(2 / 3) and h[23, 12] == pytest.approx(1 / 3)
    rng = np.random.default_rng(0)
    phi, psi = rng.uniform(-np.pi, np.pi, (2, 5000))
    assert kinetics.ramachandran_js(phi, psi, phi, psi) == 0.0
    assert kinetics.ramachandran_js(phi / 4 - 2, psi, phi / 4 + 2, psi) == pytest.approx(1.0)
    assert kinetics.ramachandran_js([phi[:10], phi[10:]], [psi[:10], psi[10:]], phi, psi) == 0.0


def test_core_states_hysteresis():
    phi = np.array([0.0, 0.1, -2.0, -2.0, 0.0, -2.0, 0.0, 1.0, 1.0, 0.0, 1.0, 2.3, 3.0, 2.2, 1.0])
    # frames in the gaps (-0.5, 0.3) and (2.0, 2.6) keep the last core's state; phi > 2.6 is state 0
    expected = [-1, -1, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 0, 0, 1]
    states = kinetics.core_states(phi)
    assert states.tolist() == expected
    assert kinetics.transition_counts(states).tolist() == [[0, 2], [1, 0]]
    assert kinetics.populations(states) == pytest.approx([7 / 13, 6 / 13])
    with pytest.raises(ValueError, match="^core_states: .*overlaps"):
        kinetics.core_states(phi, cores=(((-1.0, 1.0),), ((0.5, 2.0),)))


def test_replicas_are_pooled_never_joined():
    a, b = np.array([0, 0, 0, 1, 1]), np.array([1, 1, 0, 0, 0])
    joined = np.concatenate([a, b])
    assert kinetics.transition_counts([a, b]).tolist() == [[0, 1], [1, 0]]
    assert kinetics.transition_counts(joined).tolist() == [[0, 1], [1, 0]]
    # time in state = frame intervals starting there: 0 -> 3 + 2, 1 -> 1 + 2 (joined: 5 and 4)
    assert kinetics.rates_per_ps([a, b], DT) == pytest.approx(np.array([[0, 1 / (5 * DT)], [1 / (3 * DT), 0]]))
    assert kinetics.rates_per_ps(joined, DT)[1, 0] == pytest.approx(1 / (4 * DT))
    # entries into 1: a at 3 never returns (left out), b at 0 reaches 0 at 2; joined: 3 -> 7
    mfpt = kinetics.mean_first_passage_ps([a, b], DT)
    assert mfpt[1, 0] == pytest.approx(2 * DT) and mfpt[0, 1] == pytest.approx(3 * DT)
    assert kinetics.mean_first_passage_ps(joined, DT)[1, 0] == pytest.approx(4 * DT)
    assert [s.tolist() for s in kinetics.core_states([np.array([0.0, -2.0]), np.array([0.0, 1.0])])] == [
        [-1, 0], [-1, 1]]


def test_mean_first_passage_by_hand():
    s = np.array([0, 0, 1, 0, 2, 2, 0])
    # entries into 0 at 0, 3, 6: to 1 only from 0 (2 frames); to 2 from 0 (4) and 3 (1)
    expected = np.array([[np.nan, 2, 2.5], [1, np.nan, 2], [2, np.nan, np.nan]]) * DT
    assert kinetics.mean_first_passage_ps(s, DT, n_states=3) == pytest.approx(expected, nan_ok=True)
    with pytest.raises(ValueError, match="^mean_first_passage_ps: state 2"):
        kinetics.mean_first_passage_ps(s, DT)


def test_two_state_process_of_known_rates(replicas):
    chains, phis = replicas
    states = kinetics.core_states(phis)
    assert all(np.array_equal(s, c) for s, c in zip(states, chains))
    assert kinetics.populations(states) == pytest.approx([K10 / (K01 + K10), K01 / (K01 + K10)], rel=0.1)
    rates = kinetics.rates_per_ps(states, DT)
    assert rates[0, 1] == pytest.approx(K01, rel=0.1) and rates[1, 0] == pytest.approx(K10, rel=0.1)
    mfpt = kinetics.mean_first_passage_ps(states, DT)
    assert mfpt[0, 1] == pytest.approx(1 / K01, rel=0.1) and mfpt[1, 0] == pytest.approx(1 / K10, rel=0.1)
    for lag in (1, 10):  # a Markov chain's implied timescale does not depend on the lag
        its = kinetics.implied_timescales_ps(states, lag, DT, n_timescales=2)
        assert its[0] == pytest.approx(1 / (K01 + K10), rel=0.1) and np.isnan(its[1])


def test_implied_timescales_by_hand_and_connected_set():
    s = np.array([0] * 10 + [1] * 10 + [0])  # C = [[9, 1], [1, 9]]: T = [[0.9, 0.1], [0.1, 0.9]], lambda 0.8
    expected = -DT / np.log(0.8)
    assert kinetics.implied_timescales_ps(s, 1, DT).tolist() == pytest.approx([expected, np.nan, np.nan], nan_ok=True)
    sink = np.append(s, 2)  # state 2 is entered and never left: outside the strongly connected set
    assert kinetics.implied_timescales_ps(sink, 1, DT)[0] == pytest.approx(expected)
    assert kinetics.implied_timescales_ps([s, np.array([2, 2, 2])], 1, DT)[0] == pytest.approx(expected)
    # a 0 -> 1 -> 2 -> 0 cycle: C + C^T gives T = (J - I) / 2, eigenvalues 1, -1/2, -1/2
    cycle = np.array([0, 1, 2] * 4 + [0])
    assert kinetics.implied_timescales_ps(cycle, 1, DT, 2) == pytest.approx([DT / np.log(2)] * 2)
    with pytest.raises(ValueError, match="^implied_timescales_ps: "):
        kinetics.implied_timescales_ps(s, 0, DT)


def test_grid_states():
    phi, psi = np.array([-2.0, -np.pi + 1e-9, np.pi, np.nan]), np.array([1.0, -np.pi + 1e-9, 0.0, 0.0])
    # (-2.0, 1.0): i = floor(1.1416 / 6.2832 * 6) = 1, j = floor(4.1416 / 6.2832 * 6) = 3; pi wraps to -pi
    assert kinetics.grid_states(phi, psi).tolist() == [1 * 6 + 3, 0, 0 * 6 + 3, -1]
    assert [g.tolist() for g in kinetics.grid_states([phi[:1], phi[1:2]], [psi[:1], psi[1:2]])] == [[9], [0]]


def test_bootstrap_over_trajectories(replicas):
    states = kinetics.core_states(replicas[1])
    result = kinetics.bootstrap_trajectories(states, lambda t: kinetics.populations(t)[0], n_boot=100)
    assert result["value"] == kinetics.populations(states)[0] and result["n"] == 8
    assert result["low"] < K10 / (K01 + K10) < result["high"]
    rates = kinetics.bootstrap_trajectories(states, lambda t: kinetics.rates_per_ps(t, DT), n_boot=100)
    assert rates["low"].shape == (2, 2) and rates["low"][0, 1] < K01 < rates["high"][0, 1]
    with pytest.raises(ValueError, match="^bootstrap_trajectories: "):
        kinetics.bootstrap_trajectories(states[:1], len)
