"""Benchmark estimators against synthetic series whose answers are known."""
import numpy as np
import pytest

from openmm_cgml import analysis
from openmm_cgml.benchmark import estimators

DT = 0.5  # ps per frame
TAU_FRAMES = 20.0  # the AR(1) ACF is exactly exp(-k / 20): tau = 10 ps


def ar1(n_replicas, n_frames, rng, tau=TAU_FRAMES):
    """Stationary AR(1) replicas (unit variance) with ACF exp(-k / tau), shaped (n_replicas, n_frames)."""
    phi = np.exp(-1.0 / tau)
    noise = rng.normal(size=(n_frames, n_replicas)) * np.sqrt(1 - phi ** 2)
    y = np.empty((n_frames, n_replicas))
    y[0] = rng.normal(size=n_replicas)
    for t in range(1, n_frames):
        y[t] = phi * y[t - 1] + noise[t]
    return y.T.copy()


def efold(replicas):
    return estimators.relaxation_times(replicas, DT)["efold"]


def test_pooled_acf_matches_direct_sums_over_replicas():
    rng = np.random.default_rng(1)
    replicas = [rng.normal(size=40) + 0.3, rng.normal(size=25) - 0.2, rng.normal(size=60)]
    mean = np.concatenate(replicas).mean()
    direct = np.array([sum(np.sum((r[: r.size - k] - mean) * (r[k:] - mean)) for r in replicas if r.size > k)
                       / sum(max(r.size - k, 0) for r in replicas) for k in range(31)])
    assert estimators.pooled_autocorrelation(replicas, 30) == pytest.approx(direct / direct[0], abs=1e-12)
    assert estimators.pooled_autocorrelation(replicas).size == analysis.trusted_lags(25) + 1
    single = estimators.pooled_autocorrelation([replicas[2]], 59)
    assert single == pytest.approx(analysis.autocorrelation(replicas[2]), abs=1e-12)
    assert np.all(np.isnan(estimators.pooled_autocorrelation([np.ones(10), np.ones(20)])))
    with pytest.raises(ValueError, match="^pooled_autocorrelation: .*single run"):
        estimators.pooled_autocorrelation(np.arange(10.0))  # a bare series, not a list of replicas


@pytest.fixture(scope="module")
def pooled_times():
    return estimators.relaxation_times(list(ar1(400, 5000, np.random.default_rng(11))), DT)


@pytest.mark.parametrize("method, tolerance", [("efold", 0.04), ("integral", 0.06), ("fit", 0.04)])
def test_pooled_relaxation_times_of_ar1(pooled_times, method, tolerance):
    # 400 replicas x 5000 frames: efold and fit scatter by ~1 % over seeds, the integral (which sums
    # the noisy ACF up to its zero crossing) by ~2 %
    assert pooled_times[method] == pytest.approx(TAU_FRAMES * DT, rel=tolerance)


def test_single_replica_equals_analysis_relaxation_time():
    rng = np.random.default_rng(5)
    cases = [ar1(1, 400, rng)[0], ar1(1, 3000, rng, tau=3.0)[0], rng.normal(size=200),  # tau under a frame
             np.arange(10.0), np.ones(100), np.linspace(0, 1, 100), np.sin(np.arange(300) / 3.0)]
    for series in cases:
        pooled = estimators.relaxation_times([series], DT)
        for method in ("efold", "integral", "fit"):
            assert pooled[method] == pytest.approx(analysis.relaxation_time(series, DT, method),
                                                   rel=1e-12, nan_ok=True)
    assert np.isnan(estimators.relaxation_times([ar1(1, 400, rng)[0], np.arange(10.0)], DT)["efold"])


def test_times_from_acf_of_an_exact_exponential():
    acf = np.exp(-np.arange(200) / 8.0)
    assert np.isnan(analysis.times_from_acf(acf, 2.0)["fit"])  # no zero crossing within the lags given
    acf[100:] = -0.01
    times = analysis.times_from_acf(acf, 2.0)
    assert times["fit"] == pytest.approx(16.0, rel=1e-9)
    assert times["efold"] == pytest.approx(16.0, rel=0.02)  # linear interpolation of the exponential
    assert times["integral"] == pytest.approx(16.0, rel=0.01)  # trapezoid rule: 8 + 1 / 96 frames
    with pytest.raises(ValueError, match="^times_from_acf: .*normalised"):
        analysis.times_from_acf(2 * acf, 2.0)


def test_replica_bootstrap_error_matches_spread_of_repeats_and_shrinks():
    rng = np.random.default_rng(21)
    repeats = ar1(80 * 16, 600, rng).reshape(80, 16, 600)
    spread = np.std([efold(list(r)) for r in repeats], ddof=1)  # the true SE for 16 replicas
    small = [estimators.replica_bootstrap(list(r), efold, n_boot=50, seed=i) for i, r in enumerate(repeats[:12])]
    assert all(estimate == efold(list(r)) for (estimate, _), r in zip(small, repeats))
    se16 = np.mean([se for _, se in small])
    assert spread / 1.5 < se16 < spread * 1.5  # resampling frames instead would be ~6x too small
    big = ar1(4 * 64, 600, rng).reshape(4, 64, 600)
    se64 = np.mean([estimators.replica_bootstrap(list(r), efold, n_boot=50, seed=i)[1] for i, r in enumerate(big)])
    assert 1.4 < se16 / se64 < 2.8  # sqrt(64 / 16) = 2
    with pytest.raises(ValueError, match="^replica_bootstrap: "):
        estimators.replica_bootstrap([np.ones(5)], efold)


def test_block_standard_error_of_correlated_series():
    rng = np.random.default_rng(4)
    series = ar1(40, 20_000, rng)
    phi = np.exp(-1.0 / TAU_FRAMES)
    exact = np.sqrt((1 + phi) / (1 - phi) / 20_000)  # SE of the mean of a long AR(1) run
    rms = np.sqrt(np.mean([estimators.block_standard_error(s) ** 2 for s in series]))
    assert rms == pytest.approx(exact, rel=0.15)  # the naive std / sqrt(N) is 6x smaller
    white = rng.normal(size=(40, 2000))
    assert np.sqrt(np.mean([estimators.block_standard_error(s) ** 2 for s in white])) == pytest.approx(
        1 / np.sqrt(2000), rel=0.15)
    with pytest.raises(ValueError, match="^block_standard_error: "):
        estimators.block_standard_error(np.ones(5), n_blocks=10)


def test_halves_drift_flags_an_unequilibrated_start():
    series = ar1(1, 20_000, np.random.default_rng(8))[0]
    drift = estimators.halves_drift(series)
    assert drift["first"] == pytest.approx(series[:10_000].mean())
    assert drift["second"] == pytest.approx(series[10_000:].mean())
    assert abs(drift["z"]) < 3
    # a drift slower than the run, of two standard deviations (a drift within a half also inflates
    # that half's block SE, so z is conservative)
    relaxing = series + 2.0 * (1 - np.arange(series.size) / series.size)
    assert estimators.halves_drift(relaxing)["z"] < -4


def test_r2_scores_by_hand():
    truth = np.array([1.0, 2.0, 3.0, 4.0])
    assert estimators.pearson_r2(truth, truth) == pytest.approx(1.0)
    assert estimators.determination_r2(truth, truth) == pytest.approx(1.0)
    assert estimators.pearson_r2(truth + 1, truth) == pytest.approx(1.0)
    assert estimators.determination_r2(truth + 1, truth) == pytest.approx(1 - 4 / 5)  # SS_tot = 5
    assert estimators.determination_r2(2 * truth, truth) == pytest.approx(1 - 30 / 5)
    # deviations (-1, 0, 1) and (-1, 1, 0): r = 1 / 2; SS_res = 2 = SS_tot
    assert estimators.pearson_r2([1.0, 3.0, 2.0], [1.0, 2.0, 3.0]) == pytest.approx(0.25)
    assert estimators.determination_r2([1.0, 3.0, 2.0], [1.0, 2.0, 3.0]) == pytest.approx(0.0)
    assert np.isnan(estimators.pearson_r2([1.0, 2.0, np.nan], [1.0, 2.0, 3.0]))
    assert np.isnan(estimators.determination_r2([1.0, 2.0, 5.0, np.nan], [1.0, 2.0, np.nan, 4.0]))
    with pytest.raises(ValueError, match="^pearson_r2: "):
        estimators.pearson_r2([1.0, 2.0], [1.0, 2.0, 3.0])


def test_keyed_intervals_skip_non_finite_draws():
    draws = [{"a": float(i), "b": np.nan, "c": np.inf if i % 2 else float(i)} for i in range(101)]
    out = estimators.keyed_intervals({"a": 50, "b": 1.0, "c": 2.0}, draws)
    assert out["a"] == pytest.approx({"value": 50.0, "low": 2.5, "high": 97.5})
    assert out["b"]["value"] == 1.0 and np.isnan(out["b"]["low"]) and np.isnan(out["b"]["high"])
    # only the 51 even draws (0, 2, ..., 100) are finite
    assert out["c"]["low"] == pytest.approx(2.5) and out["c"]["high"] == pytest.approx(97.5)


def test_bootstrap_items_interval_of_a_mean():
    rng = np.random.default_rng(2)
    items = rng.normal(3.0, 1.0, size=200)
    result = estimators.bootstrap_items(lambda idx: items[idx].mean(), 200)
    assert result["value"] == items.mean() and result["n"] == 200
    assert result["low"] < 3.0 < result["high"]
    assert result["high"] - result["low"] == pytest.approx(2 * 1.96 / np.sqrt(200), rel=0.2)
    covered = 0
    for seed in range(200):  # a 95 % interval covers the true mean about 95 % of the time
        sample = rng.normal(3.0, 1.0, size=40)
        r = estimators.bootstrap_items(lambda idx: sample[idx].mean(), 40, n_boot=300, seed=seed)
        covered += r["low"] <= 3.0 <= r["high"]
    assert 0.88 <= covered / 200 <= 0.99
    with pytest.raises(ValueError, match="^bootstrap_items: "):
        estimators.bootstrap_items(lambda idx: 0.0, 10, level=1.5)


def test_ratio_summary_by_hand():
    summary = estimators.ratio_summary([0.5, 0.67, 1.0, 1.2, 1.5, 2.0, np.nan])
    # sorted finite ratios: 10th percentile at position 0.5, 90th at 4.5 (linear interpolation)
    assert summary == pytest.approx({"median": 1.1, "p10": 0.585, "p90": 1.75, "fraction_in": 4 / 6, "n": 6})
    assert estimators.ratio_summary([0.9, 3.0], band=(0.5, 2.0))["fraction_in"] == 0.5
    assert estimators.ratio_summary([np.nan])["n"] == 0


def test_integral_time_bound_is_the_integral_or_a_lower_bound_where_the_acf_stays_positive():
    lags = np.arange(40)
    crossing = np.cos(lags * np.pi / 20)  # reaches zero at lag 10
    tau, censored = estimators.integral_time_bound(crossing, 2.0)
    assert not censored and tau == pytest.approx(analysis.times_from_acf(crossing, 2.0)["integral"])
    slow = np.exp(-lags / 100.0)  # stays positive over every lag given
    bound, censored = estimators.integral_time_bound(slow, 2.0)
    assert censored and bound == pytest.approx(np.trapezoid(slow) * 2.0)
    assert bound < 100.0 * 2.0  # below the true integral of the ACF
    assert estimators.integral_time_bound([1.0, None, 0.5], 1.0) == (pytest.approx(np.nan, nan_ok=True), False)


def test_censored_ratio_summary_brackets_every_value_the_censored_items_allow():
    x, truth = np.array([1.0, 1.0, 1.0, 2.0, 0.5]), np.ones(5)
    none = estimators.censored_ratio_summary(x, np.zeros(5), truth, np.zeros(5))
    plain = estimators.ratio_summary(x / truth)
    assert none["median_low"] == none["median_high"] == plain["median"]
    assert none["fraction_in_low"] == none["fraction_in_high"] == plain["fraction_in"]
    assert none["censored"] == 0 and none["n"] == 5
    # the third item's CG value is only a lower bound: its ratio is 1 or more
    one = estimators.censored_ratio_summary(x, [0, 0, 1, 0, 0], truth, np.zeros(5))
    assert one["median_low"] == 1.0 and one["median_high"] == 1.0  # the median cannot move either way
    assert one["fraction_in_low"] == 0.4 and one["fraction_in_high"] == 0.6
    # censored truths of two items: their ratios could be anything down to 0
    two = estimators.censored_ratio_summary(x, [1, 0, 0, 0, 0], truth, [1, 1, 0, 0, 0])
    assert two["median_low"] == 0.5 and two["median_high"] == 1.0 and two["censored"] == 2
    for values in (np.array([1.3, 1.0, 1.0, 2.0, 0.5]), np.array([0.1, 0.2, 1.0, 2.0, 0.5])):  # values the bounds allow
        plain = estimators.ratio_summary(values)
        assert two["median_low"] <= plain["median"] <= two["median_high"]
        assert two["fraction_in_low"] <= plain["fraction_in"] <= two["fraction_in_high"]
    nan = estimators.censored_ratio_summary([np.nan, 1.0], [0, 0], [1.0, 1.0], [0, 0])
    assert nan["n"] == 1
    with pytest.raises(ValueError, match="^censored_ratio_summary: .*one length"):
        estimators.censored_ratio_summary([1.0], [0, 0], [1.0], [0])


def test_close_contact_fractions():
    rng = np.random.default_rng(6)
    md = rng.gamma(20.0, 0.03, size=1_000_000)  # distances around 0.6 nm
    same = estimators.close_contact_fractions(rng.gamma(20.0, 0.03, size=1_000_000), md)
    assert set(same) == {"0.001", "0.01"}
    for key, q in (("0.001", 0.001), ("0.01", 0.01)):
        assert same[key]["expected"] == q
        assert same[key]["threshold_nm"] == pytest.approx(np.quantile(md, q))
        assert same[key]["cg_fraction"] == pytest.approx(q, rel=0.15)
    shifted = estimators.close_contact_fractions(md + 1.0, md)
    assert all(v["cg_fraction"] == 0.0 for v in shifted.values())
    squeezed = estimators.close_contact_fractions(md - 0.2, md, quantiles=(0.01,))
    assert squeezed["0.01"]["cg_fraction"] > 0.2


def test_msd_at_lags_of_ballistic_beads():
    v = np.array([[0.1, 0.0, 0.0], [0.0, 0.2, 0.0], [0.0, 0.0, -0.3]])  # nm / ps
    t = np.arange(101) * 0.2
    x = t[:, None, None] * v[None] + np.array([1.0, 2.0, 3.0])
    speed2 = np.mean(np.sum(v ** 2, -1))
    out = estimators.msd_at_lags(x, 0.2, [0.0, 1.0, 1.05, 5.0, 5.2])  # trusted: 25 frames = 5 ps
    assert out[:4] == pytest.approx([0.0, speed2, speed2, 25 * speed2])
    assert np.isnan(out[4])
    # A lag shorter than half a frame has no estimate (it is not the zero lag).
    assert np.isnan(estimators.msd_at_lags(x, 0.2, [0.09])[0])


def test_split_halves():
    assert estimators.split_halves(["a", "b", "c", "d"]) == (["a", "c"], ["b", "d"])
    with pytest.raises(ValueError, match="^split_halves: .*even"):
        estimators.split_halves([1, 2, 3])


def test_log_slope_tells_a_model_that_pulls_chains_to_the_average():
    md = np.array([0.04, 0.06, 0.1, 0.15, 0.18])
    assert estimators.log_slope(md, 1.3 * md) == pytest.approx(1.0)           # the same differences, all wider
    average = np.exp(np.log(md).mean())
    assert estimators.log_slope(md, np.sqrt(md * average)) == pytest.approx(0.5)  # halfway to the average chain
    assert np.isnan(estimators.log_slope(md[:2], md[:2]))
    assert estimators.log_slope(np.append(md, np.nan), np.append(md, 1.0)) == pytest.approx(1.0)  # NaN pairs left out
