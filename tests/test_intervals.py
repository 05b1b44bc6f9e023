import numpy as np
import pytest

from snippets.intervals import Interval, bootstrap, unit_means


def test_the_interval_covers_the_mean_of_a_known_distribution_most_of_the_time():
    covered = 0
    for seed in range(200):
        sample = np.random.default_rng(seed).normal(loc=3.0, size=30)
        interval = bootstrap(sample, seed=seed)
        covered += interval.low <= 3.0 <= interval.high
    assert 0.88 <= covered / 200 <= 0.99  # a 95 % interval: percentile bootstrap runs a bit low


def test_the_interval_narrows_with_more_units_and_holds_the_estimate():
    rng = np.random.default_rng(0)
    small, large = bootstrap(rng.normal(size=20)), bootstrap(rng.normal(size=2000))
    assert large.high - large.low < (small.high - small.low) / 5
    assert small.low <= small.estimate <= small.high and large.n == 2000


def test_the_same_seed_gives_the_same_interval_and_another_statistic_is_honoured():
    values = [0.1, 0.5, 0.2, 0.9, 0.4, 0.3]
    assert bootstrap(values) == bootstrap(values)
    assert bootstrap(values, np.median).estimate == pytest.approx(0.35)


def test_identical_values_give_an_exact_zero_width_interval():
    assert bootstrap([1.0, 1.0, 1.0]) == Interval(1.0, 1.0, 1.0, 3)


@pytest.mark.parametrize("values", [[1.0], [], [1.0, float("nan")], [[1.0, 2.0], [3.0, 4.0]]])
def test_too_few_units_or_a_nan_is_refused_in_one_line(values):
    with pytest.raises(ValueError, match="one per unit"):
        bootstrap(values)


def test_formatting_and_error_bars():
    interval = Interval(0.42, 0.35, 0.5, 10)
    assert interval.format() == "0.42 (95 % CI 0.35–0.50)"
    assert interval.format(1, 100, " %") == "42.0 % (95 % CI 35.0–50.0 %)"
    assert interval.errors == pytest.approx((0.07, 0.08))


def test_unit_means_average_within_each_unit_in_order_of_appearance():
    assert unit_means([1, 3, 10, 2, 20], ["b", "b", "a", "b", "a"]) == [2.0, 15.0]
    with pytest.raises(ValueError):
        unit_means([1, 2], ["a"])
