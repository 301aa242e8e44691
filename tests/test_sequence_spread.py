"""The per-sequence spread diagnostic (benchmarks/sequence_spread.py): its figures and the slope that
tells whether a model carries the chains' differences over, on series with known answers."""
import numpy as np
import pytest

from script_loader import load_script
from test_benchmark import ornstein_uhlenbeck


@pytest.fixture(scope="module")
def script():
    return load_script("benchmarks/sequence_spread.py")


def breathing(seed, sd, tau_steps, n=20000, mean=1.0):
    """An Rg series: an Ornstein–Uhlenbeck process of spread ``sd`` and relaxation ``tau_steps`` steps."""
    return mean + sd * ornstein_uhlenbeck(np.random.default_rng(seed), n, tau_steps)


def test_figures_of_a_known_series(script):
    rg = breathing(0, 0.05, 10.0)
    f = script.figures_of(rg, 20.0)
    assert f["rg_mean_nm"] == pytest.approx(1.0, abs=0.01)
    assert f["rg_sd_nm"] == pytest.approx(0.05, rel=0.1)
    # Rg² ≈ 1 + 2 δ for small δ: the same relaxation as Rg
    assert f["decorrelation"] == pytest.approx(1 - np.exp(-0.1), rel=0.15)
    assert f["tau_efold_ps"] == pytest.approx(200.0, rel=0.2)


def test_summarise_gives_slopes_and_ratios_with_intervals(script):
    def figures(mean, sd):
        return dict(zip(script.FIGURES, (mean, sd, 0.1, 200.0)))

    rows = [{"md": figures(1.0, sd), "cg": figures(1.1, 2 * sd), "md_first_half": figures(1.0, sd),
             "md_second_half": figures(1.0, np.sqrt(sd * 0.1))} for sd in (0.04, 0.08, 0.12, 0.16)]
    summary = script.summarise(rows, n_boot=50, seed=0)
    assert summary["sequences"] == 4
    assert summary["rg_sd_nm"]["slope"]["value"] == pytest.approx(1.0)
    assert summary["rg_sd_nm"]["median_ratio"]["value"] == pytest.approx(2.0)
    assert summary["rg_mean_nm"]["median_ratio"]["value"] == pytest.approx(1.1)
    assert summary["rg_sd_nm"]["slope"]["low"] <= 1.0 <= summary["rg_sd_nm"]["slope"]["high"]
    assert summary["rg_sd_nm"]["ceiling_slope"]["value"] == pytest.approx(0.5)  # halves pulled halfway to 0.1
