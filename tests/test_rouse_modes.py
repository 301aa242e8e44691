"""The Rouse-mode diagnostic: the transform, per-mode mean squares, and the benchmark script's pure functions."""
import numpy as np
import pytest

from openmm_cgml import analysis
from script_loader import load_script


@pytest.fixture(scope="module")
def script():
    return load_script("benchmarks/rouse_modes.py")


@pytest.mark.parametrize("n", [1, 2, 5, 20])
def test_rouse_transform_is_orthonormal(n):
    q = analysis.rouse_matrix(n)
    assert q @ q.T == pytest.approx(np.eye(n), abs=1e-12)
    x = np.random.default_rng(n).normal(size=(4, n, 3))
    modes = analysis.rouse_modes(x)
    assert (modes ** 2).sum((-2, -1)) == pytest.approx((x ** 2).sum((-2, -1)))
    assert modes[:, 0] == pytest.approx(np.sqrt(n) * x.mean(1))  # mode 0: sqrt(N) times the centre


def test_isotropic_bead_noise_gives_flat_modes_and_translation_only_mode_0():
    rng = np.random.default_rng(1)
    n, sigma = 12, 0.1
    start = rng.normal(size=(40000, n, 3))
    noise = start + sigma * rng.normal(size=start.shape)
    modes = analysis.step_mean_squares(start, noise)["mode"]
    assert modes == pytest.approx(np.full(n, 3 * sigma ** 2), rel=0.03)
    # a rigid translation of the whole chain lives in mode 0 alone: far from flat
    shift = start + sigma * rng.normal(size=(start.shape[0], 1, 3))
    modes = analysis.step_mean_squares(start, shift)["mode"]
    assert modes[0] == pytest.approx(3 * n * sigma ** 2, rel=0.03)
    assert modes[1:] == pytest.approx(np.zeros(n - 1), abs=1e-20)


def test_step_mean_squares_by_hand():
    # two beads moving together (mode 0 only) or apart (mode 1 only): |X_p|^2 = 2 for unit moves
    start = np.zeros((2, 2, 3))
    moved = np.array([[[1.0, 0, 0], [1.0, 0, 0]], [[1.0, 0, 0], [-1.0, 0, 0]]])
    result = analysis.step_mean_squares(start, moved)
    assert result["bead"] == pytest.approx([1.0, 1.0])
    assert result["mode"] == pytest.approx([1.0, 1.0])  # (2 + 0) / 2 and (0 + 2) / 2
    # samples axis (W=1, S=2) and beads given out of chain order: bonds (2, 0), (0, 1) -> chain 1-0-2
    order = analysis.chain_order(3, [(2, 0), (0, 1)])
    assert order.tolist() == [1, 0, 2]
    start = np.zeros((1, 3, 3))
    moved = np.zeros((1, 2, 3, 3))
    moved[0, 0, :, 0] = [2.0, 1.0, 1.0]   # in chain order (1, 2, 1): mode 0 and mode 2 only
    moved[0, 1, :, 0] = [0.0, 1.0, -1.0]  # in chain order (1, 0, -1): mode 1 only
    result = analysis.step_mean_squares(start, moved, order)
    assert result["bead"] == pytest.approx([2.0, 1.0, 1.0])
    q = analysis.rouse_matrix(3)
    first, second = q @ [1.0, 2.0, 1.0], q @ [1.0, 0.0, -1.0]
    assert first[1] == pytest.approx(0.0, abs=1e-12) and second[[0, 2]] == pytest.approx([0.0, 0.0], abs=1e-12)
    assert result["mode"] == pytest.approx((first ** 2 + second ** 2) / 2)
    assert result["mode"] == pytest.approx([8 / 3, 1.0, 1 / 3])


def test_chain_order_refuses_branches_and_rings():
    with pytest.raises(ValueError, match="unbranched"):
        analysis.chain_order(4, [(0, 1), (0, 2), (0, 3)])
    with pytest.raises(ValueError, match="unbranched"):
        analysis.chain_order(3, [(0, 1), (1, 2), (2, 0)])


def test_refinement_kept_by_hand(script):
    # one call, s = sigma = 1, a = 0.5: the deviation shrinks by 1 - 0.5 / 2 = 0.75
    assert script.refinement_kept([1.0], [1.0], 0.5, noise=False) == pytest.approx([0.5625])
    assert script.refinement_kept([1.0], [1.0], 0.5, noise=True) == pytest.approx([0.5625])  # the last call only denoises
    # two calls with noise: v = 0.5625 + 2 * 0.5 * 1 after the first, times 0.5625 after the second
    assert script.refinement_kept([1.0], [1.0, 1.0], 0.5, noise=True) == pytest.approx([1.5625 * 0.5625])
    assert script.refinement_kept([2.0, 1.0], [], 0.5, noise=False) == pytest.approx([1.0, 1.0])


def test_within_window_spread_by_hand(script):
    start = np.zeros((1, 2, 3))
    moved = np.zeros((1, 2, 2, 3))
    moved[0, 0, :, 0], moved[0, 1, :, 0] = [1.0, 1.0], [-1.0, -1.0]  # mode 0 = ±sqrt(2): variance 2 * 2 / (2 - 1)
    assert script.within_window_spread(start, moved, None) == pytest.approx([4.0, 0.0], abs=1e-12)


def test_rg2_change_is_the_mean_change_of_the_squared_radius_of_gyration(script):
    start = np.zeros((2, 2, 3))
    start[:, 1, 0] = 1.0                               # two beads 1 nm apart: Rg^2 = 0.25
    moved = start.copy()
    moved[0, 1, 0] = 2.0                               # 2 nm apart: Rg^2 = 1
    assert script.rg2_change(start, moved) == pytest.approx((1.0 - 0.25) / 2)
    samples = np.stack([start, moved], 1)              # (W, S, n, 3): the mean over samples, then windows
    assert script.rg2_change(start, samples) == pytest.approx((1.0 - 0.25) / 4)
