"""The global-statistics CombineFn against NumPy over the same arrays."""
import itertools

import apache_beam as beam
import numpy as np
import pytest
from apache_beam.testing.util import assert_that, equal_to

from transforms.common import moments as stats


def arrays(seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(rng.uniform(-2, 2), rng.uniform(0.1, 3), (n, 540)).astype(np.float32)
            for n in (1, 7, 30, 64, 2)]


def expected(arrs):
    x = np.concatenate(arrs).astype(np.float64)
    mean = x.mean(axis=0)
    return mean, np.sqrt(np.maximum((x ** 2).mean(axis=0) - mean ** 2, 1e-8))


def run_fn(fn, groups):
    """Drive the CombineFn like a runner: one accumulator per group, then merge."""
    accs = []
    for group in groups:
        acc = fn.create_accumulator()
        for a in group:
            acc = fn.add_input(acc, stats.moments_of(a))
        accs.append(acc)
    return fn.extract_output(fn.merge_accumulators(accs))


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))))
def test_any_merge_order_matches_numpy(order):
    arrs = arrays()
    groups = [arrs[:2], arrs[2:3], arrs[3:]]
    result = run_fn(stats.GlobalMomentsFn(), [groups[i] for i in order])
    mean, std = stats.mean_std(result, 540)
    want_mean, want_std = expected(arrs)
    assert result.count == sum(len(a) for a in arrs)
    np.testing.assert_allclose(mean, want_mean, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(std, want_std, rtol=1e-6)
    assert mean.dtype == np.float32 and std.dtype == np.float32


def test_constant_feature_gets_the_variance_floor():
    arrs = [np.full((5, 540), 3.0, np.float32)]
    _, std = stats.mean_std(run_fn(stats.GlobalMomentsFn(), [arrs]), 540)
    np.testing.assert_allclose(std, 1e-4, rtol=1e-3)


def test_no_clip_gives_zero_mean_and_floor_std():
    result = run_fn(stats.GlobalMomentsFn(), [[]])
    mean, std = stats.mean_std(result, 540)
    assert result is None and not mean.any()
    np.testing.assert_allclose(std, 1e-4)


def test_in_a_beam_pipeline():
    arrs = arrays(3)
    want_mean, _ = expected(arrs)
    with beam.Pipeline() as p:
        out = (p | beam.Create([stats.moments_of(a) for a in arrs])
               | beam.CombineGlobally(stats.GlobalMomentsFn())
               | beam.Map(lambda m: (m.count, bool(np.allclose(m.total / m.count, want_mean, rtol=1e-9)))))
        assert_that(out, equal_to([(sum(len(a) for a in arrs), True)]))
