"""`mamlgame.stats`: rliable's aggregates, probability of improvement and stratified-bootstrap
intervals, checked by hand on tiny arrays and against the numbers rliable 1.2.0 gives on a
fixed array (computed once with rliable in a separate environment, 50000 resamples: rliable
does not import beside pandas 3, see the module docstring)."""

import numpy as np
import pytest
import scipy.stats

from mamlgame import stats

# a fixed [5 runs, 8 tasks] pair of score arrays (returns, higher is better)
X = np.array([
    [-10.0, -9.1, -10.82, -12.67, -11.36, -12.97, -9.82, -5.98],
    [-11.48, -11.86, -8.53, -8.93, -9.68, -12.79, -10.09, -7.91],
    [-14.03, -11.37, -15.7, -13.87, -15.53, -10.71, -13.8, -9.19],
    [-9.53, -10.56, -17.55, -11.62, -10.15, -9.66, -14.59, -11.43],
    [-12.94, -12.43, -6.82, -12.42, -10.1, -7.35, -11.75, -10.34]])
Y = np.array([
    [-12.09, -11.28, -6.82, -10.29, -10.39, -6.07, -10.36, -7.38],
    [-6.67, -7.06, -13.27, -9.35, -7.26, -6.22, -12.33, -8.53],
    [-11.27, -7.66, -13.4, -11.4, -12.06, -8.31, -12.68, -6.99],
    [-9.3, -9.73, -6.98, -6.93, -9.56, -8.68, -8.93, -8.57],
    [-8.08, -5.82, -9.17, -8.58, -7.53, -11.24, -10.32, -6.02]])
# rliable.library.get_interval_estimates(..., reps=50000) with aggregate_mean, _median, _iqm
# and _optimality_gap(gamma=-8): point estimate, then the interval (runs only / runs and tasks)
RLIABLE = {
    "mean": (-11.18575, (-11.8763, -10.4990), (-12.1305, -10.2030)),
    "median": (-11.48, (-12.0600, -10.5130), (-12.2050, -10.1850)),
    "iqm": (-11.033, (-11.7805, -10.3555), (-12.0645, -10.0950)),
    "optimality_gap": (3.28425, (2.6450, 3.9400), (2.4115, 4.1742)),
}
RLIABLE_POI = (0.2475, (0.14, 0.365))  # probability_of_improvement(X, Y), runs resampled


# ---- the aggregates by hand ------------------------------------------------------------------
def test_iqm_is_the_mean_of_the_middle_half():
    assert stats.iqm(np.arange(1.0, 9.0)[None]) == 4.5  # (3 + 4 + 5 + 6) / 4
    assert stats.iqm(np.array([[1.0, 100.0], [2.0, -50.0]])) == 1.5  # cut 1 from each end
    rng = np.random.default_rng(0)
    for shape in [(1, 7), (3, 5), (10, 40), (2, 3)]:
        x = rng.normal(size=shape)
        assert stats.iqm(x) == pytest.approx(scipy.stats.trim_mean(x, 0.25, axis=None))


def test_mean_median_and_optimality_gap_by_hand():
    s = np.array([[0.5, 1.2, 0.0], [0.9, 0.1, 0.2]])
    assert stats.mean(s) == pytest.approx(2.9 / 6)
    assert stats.median(s) == pytest.approx(0.65)  # median of the task means .7, .65, .1
    # shortfalls below 1: .5, 0, 1, .1, .9, .8
    assert stats.optimality_gap(s) == pytest.approx(3.3 / 6)
    # a target per task: 1, 1, 0.1 -> shortfalls .5, 0, .1, .1, .9, 0
    assert stats.optimality_gap(s, np.array([1.0, 1.0, 0.1])) == pytest.approx(1.6 / 6)


def test_probability_of_improvement_by_hand_and_as_mann_whitney():
    assert stats.probability_of_improvement([[1.0], [3.0]], [[2.0], [2.0]]) == 0.5
    assert stats.probability_of_improvement([[2.0]], [[2.0]]) == 0.5  # a tie counts half
    assert stats.probability_of_improvement([[3.0, 0.0]], [[1.0, 1.0]]) == 0.5  # per task 1, 0
    assert stats.probability_of_improvement(X, Y) + stats.probability_of_improvement(Y, X) == 1
    u = [scipy.stats.mannwhitneyu(X[:, t], Y[:, t], alternative="greater").statistic / 25
         for t in range(X.shape[1])]
    assert stats.probability_of_improvement(X, Y) == pytest.approx(np.mean(u))


def test_performance_profile_counts_scores_above_each_threshold():
    s = np.array([[1.0, 2.0], [3.0, 4.0]])
    assert stats.performance_profile(s, [0, 2, 4]).tolist() == [1.0, 0.5, 0.0]


# ---- the bootstrap by hand -------------------------------------------------------------------
def test_two_runs_on_one_task_give_the_interval_between_them():
    """Resampled means of runs (a, b) are a, (a+b)/2 and b with chances 1/4, 1/2, 1/4: the
    2.5th and 97.5th percentiles are a and b."""
    est = stats.interval(np.array([[2.0], [6.0]]), stats.mean, reps=4000)
    assert (est.value, est.lo, est.hi) == (4.0, 2.0, 6.0)
    one_run = stats.mean_interval([2.0, 6.0], reps=4000)  # eval's: over tasks
    assert (one_run.value, one_run.lo, one_run.hi) == (4.0, 2.0, 6.0)


def test_equal_scores_have_no_spread_and_the_bootstrap_is_seeded():
    est = stats.interval_estimates(np.full((3, 4), -2.0), target=0.0, reps=200)
    assert all((e.lo, e.hi) == (e.value, e.value) for e in est.values())
    assert est["optimality_gap"].value == 2.0
    a, b = stats.interval(X, stats.iqm, seed=3), stats.interval(X, stats.iqm, seed=3)
    assert a == b and a.lo < a.value < a.hi


def test_stratified_resamples_keep_each_column_within_one_task():
    rng = np.random.default_rng(0)
    run_idx, task_idx = stats.resample_indices(3, 4, 50, rng, task_bootstrap=False)
    assert (task_idx == np.arange(4)).all() and run_idx.max() == 2
    x = np.arange(12.0).reshape(3, 4)  # column t holds t, t + 4, t + 8
    run_idx, task_idx = stats.resample_indices(3, 4, 50, rng)
    drawn = x[run_idx, task_idx]
    assert ((drawn % 4) == task_idx).all()  # every cell of a column comes from its drawn task


# ---- against rliable -------------------------------------------------------------------------
@pytest.mark.parametrize("task_bootstrap", [False, True])
def test_interval_estimates_match_rliable(task_bootstrap):
    est = stats.interval_estimates(X, target=-8.0, reps=20000, task_bootstrap=task_bootstrap)
    for name, (value, runs_only, with_tasks) in RLIABLE.items():
        lo, hi = with_tasks if task_bootstrap else runs_only
        assert est[name].value == pytest.approx(value, abs=1e-9), name
        assert est[name].lo == pytest.approx(lo, abs=0.06), name  # Monte Carlo error ~0.01
        assert est[name].hi == pytest.approx(hi, abs=0.06), name


def test_probability_of_improvement_matches_rliable():
    est = stats.improvement_interval(X, Y, reps=20000, task_bootstrap=False)
    assert est.value == pytest.approx(RLIABLE_POI[0], abs=1e-12)
    assert (est.lo, est.hi) == pytest.approx(RLIABLE_POI[1], abs=0.02)
    wide = stats.improvement_interval(X, Y, reps=20000)  # tasks drawn too: a wider interval
    assert wide.lo < est.lo and wide.hi > est.hi


def test_profile_band_brackets_the_profile():
    taus = np.array([-12.0, -10.0, -8.0])
    profile, lo, hi = stats.profile_band(X, taus, reps=5000, task_bootstrap=False)
    assert profile.tolist() == pytest.approx([0.675, 0.3, 0.1])  # as rliable's
    assert (lo <= profile).all() and (profile <= hi).all()
    # rliable's band: [0.525, 0.8], [0.175, 0.45], [0.025, 0.175]; a step is 1/40
    assert lo == pytest.approx([0.525, 0.175, 0.025], abs=0.026)
    assert hi == pytest.approx([0.8, 0.45, 0.175], abs=0.026)
