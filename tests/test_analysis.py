"""Metrics against cases computed by hand."""
import numpy as np
import pytest

from openmm_cgml import analysis


def test_rg_of_square_and_of_two_masses():
    a = 0.4
    square = np.array([[0, 0, 0], [a, 0, 0], [a, a, 0], [0, a, 0]], dtype=float) + [1.0, -2.0, 3.0]
    assert analysis.radius_of_gyration(square[None], np.full(4, 12.0)) == pytest.approx([a / np.sqrt(2)])
    # two masses m1, m2 a distance d apart: Rg = d sqrt(m1 m2) / (m1 + m2)
    pair = np.array([[[0.0, 0.0, 0.0], [0.3, 0.0, 0.0]], [[0.0, 0.0, 0.0], [0.0, 0.6, 0.0]]])
    expected = np.array([0.3, 0.6]) * np.sqrt(1.0 * 3.0) / 4.0
    assert analysis.radius_of_gyration(pair, [1.0, 3.0]) == pytest.approx(expected)


def test_rg_of_sphere_shell():
    r = 0.7
    octahedron = r * np.vstack([np.eye(3), -np.eye(3)])
    assert analysis.radius_of_gyration(octahedron, np.ones(6)) == pytest.approx([r])
    with pytest.raises(ValueError, match="masses"):
        analysis.radius_of_gyration(octahedron, np.ones(5))


def test_autocorrelation_matches_direct_sum():
    y = np.random.default_rng(3).normal(size=300)
    acf = analysis.autocorrelation(y, 20)
    d = y - y.mean()
    direct = np.array([np.mean(d[: len(d) - k] * d[k:]) for k in range(21)])
    assert acf == pytest.approx(direct / direct[0])


def _ar1(tau_frames, n, seed):
    rng = np.random.default_rng(seed)
    phi = np.exp(-1.0 / tau_frames)
    noise = rng.normal(size=n) * np.sqrt(1 - phi ** 2)
    y = np.empty(n)
    y[0] = rng.normal()
    for i in range(1, n):
        y[i] = phi * y[i - 1] + noise[i]
    return y


@pytest.mark.parametrize("method", ["efold", "integral", "fit"])
def test_relaxation_time_of_ar1(method):
    # exp(-t/tau) with tau = 20 frames of 0.5 ps = 10 ps
    tau = analysis.relaxation_time(_ar1(20.0, 100_000, seed=7), 0.5, method)
    assert tau == pytest.approx(10.0, rel=0.2)


def test_relaxation_time_unresolved_is_nan():
    assert np.isnan(analysis.relaxation_time(np.arange(10.0), 1.0))  # shorter than MIN_FRAMES
    assert np.isnan(analysis.relaxation_time(np.ones(100), 1.0))  # no variance
    for method in ("efold", "integral"):  # the ACF of a ramp stays high beyond N // 4
        assert np.isnan(analysis.relaxation_time(np.linspace(0, 1, 100), 1.0, method))
    with pytest.raises(ValueError, match="method"):
        analysis.relaxation_time(np.ones(100), 1.0, "guess")


def test_msd_of_uniform_drift():
    v, dt = np.array([0.1, -0.2, 0.05]), 2.0
    start = np.random.default_rng(0).normal(size=(5, 3))
    x = start[None] + (np.arange(40) * dt)[:, None, None] * v
    lag, value = analysis.msd(x, dt, max_lag=10)
    assert lag == pytest.approx(np.arange(11) * dt)
    assert value == pytest.approx(np.dot(v, v) * lag ** 2)
    _, internal = analysis.msd(x, dt, max_lag=10, remove_com=True, masses=np.arange(1.0, 6.0))
    assert internal == pytest.approx(np.zeros(11), abs=1e-12)


def test_msd_matches_direct_average():
    x = np.cumsum(np.random.default_rng(1).normal(size=(60, 4, 3)), 0)
    _, value = analysis.msd(x, 1.0, max_lag=15)
    direct = [np.mean(((x[k:] - x[: len(x) - k]) ** 2).sum(-1)) for k in range(16)]
    assert value == pytest.approx(direct)


def test_js_divergence_bounds_and_known_value():
    p = np.array([0.2, 0.3, 0.5, 0.0])
    assert analysis.js_divergence(p, p) == pytest.approx(0.0, abs=1e-15)
    assert analysis.js_divergence([1, 1, 0, 0], [0, 0, 2, 5]) == pytest.approx(1.0)
    # p = (1, 0), q = (1/2, 1/2), m = (3/4, 1/4)
    expected = 0.5 * np.log2(4 / 3) + 0.5 * (0.5 * np.log2(2 / 3) + 0.5 * np.log2(2))
    assert analysis.js_divergence([1, 0], [0.5, 0.5]) == pytest.approx(expected)
    assert analysis.js_divergence([0.5, 0.5], [1, 0]) == pytest.approx(expected)


def test_distribution_js_on_shared_bins():
    rng = np.random.default_rng(2)
    a = rng.normal(0.0, 0.1, size=(2000, 3))
    assert analysis.distribution_js(a, a) == pytest.approx(0.0, abs=1e-12)
    assert analysis.distribution_js(a, a + 10.0) == pytest.approx(1.0)
    assert analysis.pairwise_js(a, a[::-1]) == pytest.approx(0.0, abs=1e-12)


def test_bond_and_angle_of_right_angle_triple():
    x = np.array([[[1.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 2.0, 0.0]]])
    bonds = [(0, 1), (1, 2)]
    np.testing.assert_allclose(analysis.bond_lengths(x, bonds), [[1.0, 2.0]])
    triples = analysis.angle_triples(bonds)
    assert triples.tolist() == [[0, 1, 2]]
    np.testing.assert_allclose(analysis.bond_angles(x, triples), [[np.pi / 2]])


def test_collisions_on_a_hand_made_frame():
    # chain 0-1-2-3 folded so that 0 and 3 nearly touch; bonded neighbours are closer still but do not count
    x = np.array([[[0.0, 0.0, 0.0], [0.1, 0.0, 0.0], [0.1, 0.1, 0.0], [0.0, 0.15, 0.0]]])
    bonds = [(0, 1), (1, 2), (2, 3)]
    assert analysis.nonbonded_pairs(4, bonds).tolist() == [[0, 2], [0, 3], [1, 3]]
    # non-bonded distances: 0-2 sqrt(0.02) = 0.141, 0-3 0.15, 1-3 sqrt(0.0325) = 0.180
    assert analysis.collisions(x, 0.145, bonds).tolist() == [1]
    assert analysis.collisions(x, 0.16, bonds).tolist() == [2]
    assert analysis.collisions(x, 0.2, bonds).tolist() == [3]
    assert analysis.collisions(x, 0.1, bonds).tolist() == [0]
    assert analysis.collision_threshold(x, bonds) == pytest.approx(np.sqrt(0.02))
    stretched = x * [1.0, 2.0, 1.0]
    assert analysis.collision_threshold(np.concatenate([x, stretched]), bonds, 100.0) == pytest.approx(
        np.linalg.norm(stretched[0, 3] - stretched[0, 1]))
