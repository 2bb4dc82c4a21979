"""The global statistics: moments summed in feature-stem order, against NumPy over the same arrays."""
import itertools

import numpy as np
import pytest

from transforms.common import moments as stats


def arrays(seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(rng.uniform(-2, 2), rng.uniform(0.1, 3), (n, 540)).astype(np.float32)
            for n in (1, 7, 30, 64, 2)]


def expected(arrs):
    x = np.concatenate(arrs).astype(np.float64)
    mean = x.mean(axis=0)
    return mean, np.sqrt(np.maximum((x ** 2).mean(axis=0) - mean ** 2, 1e-8))


@pytest.mark.parametrize("order", list(itertools.permutations(range(5)))[::20])
def test_any_arrival_order_gives_the_same_bits_and_matches_numpy(order):
    arrs = arrays()
    by_stem = {f"clip{i}": stats.moments_of(a) for i, a in enumerate(arrs)}
    arrived = {f"clip{i}": by_stem[f"clip{i}"] for i in order}  # the order results reach the reports step
    result, reference = stats.sum_in_order(arrived), stats.sum_in_order(by_stem)
    np.testing.assert_array_equal(result.total, reference.total)        # bit for bit
    np.testing.assert_array_equal(result.total_sq, reference.total_sq)
    mean, std = stats.mean_std(result, 540)
    want_mean, want_std = expected(arrs)
    assert result.count == sum(len(a) for a in arrs)
    np.testing.assert_allclose(mean, want_mean, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(std, want_std, rtol=1e-6)
    assert mean.dtype == np.float32 and std.dtype == np.float32


def test_constant_feature_gets_the_variance_floor():
    _, std = stats.mean_std(stats.sum_in_order({"a": stats.moments_of(np.full((5, 540), 3.0, np.float32))}), 540)
    np.testing.assert_allclose(std, 1e-4, rtol=1e-3)


def test_no_clip_gives_zero_mean_and_floor_std():
    result = stats.sum_in_order({})
    mean, std = stats.mean_std(result, 540)
    assert result is None and not mean.any()
    np.testing.assert_allclose(std, 1e-4)
