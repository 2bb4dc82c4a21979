"""The global statistics' CombineFn: the same bits whatever a runner does with the clips, and exact enough.

A runner may cut the clips into bundles of any size, pre-combine each bundle (combiner lifting) and merge
the partial sums in any order; these tests do that, at random, and compare bytes.
"""
import math
import random

import numpy as np
import pytest

from transforms.common.moments import ExactMoments, Moments, moments_of, sum_in_order
from transforms.features import v2
from transforms.reports.statistics import MomentsTotal

from tests.runner_like import as_a_runner_would


def clips(n, seed=0, dim=540):
    rng = np.random.default_rng(seed)
    return [moments_of(rng.normal(scale=rng.uniform(0.01, 50), size=(int(rng.integers(5, 120)), dim))
                       .astype(np.float32)) for _ in range(n)]


def as_bytes(moments: Moments) -> bytes:
    return np.asarray(moments.count).tobytes() + moments.total.tobytes() + moments.total_sq.tobytes()


@pytest.mark.parametrize("seed", range(5))
def test_any_bundling_and_merge_order_gives_the_same_bits(seed):
    exact = [ExactMoments.of(m) for m in clips(60, seed)]
    fn = MomentsTotal()
    results = {as_bytes(as_a_runner_would(fn, exact, random.Random(seed * 100 + k)).rounded()) for k in range(6)}
    assert len(results) == 1


def test_the_total_is_the_exactly_rounded_sum():
    found = clips(40, seed=7)
    total = as_a_runner_would(MomentsTotal(), [ExactMoments.of(m) for m in found], random.Random(1)).rounded()
    for column in range(0, 540, 53):
        assert total.total[column] == math.fsum(float(m.total[column]) for m in found)
        assert total.total_sq[column] == math.fsum(float(m.total_sq[column]) for m in found)
    assert total.count == sum(m.count for m in found)


def test_it_matches_the_sequential_float_sum_it_replaces_to_float32_precision():
    found = clips(200, seed=3)
    sequential = sum_in_order({f"{i:04d}": m for i, m in enumerate(found)})
    exact = as_a_runner_would(MomentsTotal(), [ExactMoments.of(m) for m in found], random.Random(2)).rounded()
    for new, old in ((exact.total, sequential.total), (exact.total_sq, sequential.total_sq)):
        np.testing.assert_allclose(new.astype(np.float32), old.astype(np.float32), rtol=1e-6)


def test_a_clip_taken_out_of_a_stored_total_leaves_exactly_the_others():
    found = [ExactMoments.of(m) for m in clips(30, seed=11)]
    everything = as_a_runner_would(MomentsTotal(), found, random.Random(3))
    without_one = as_a_runner_would(MomentsTotal(), found[:12] + found[13:], random.Random(4))
    assert everything.plus(found[12].negated()) == without_one
    assert ExactMoments.from_json(everything.to_json()) == everything


def test_per_column_counts_of_features_v2_add_exactly_too():
    rng = np.random.default_rng(5)
    arrays = []
    for _ in range(10):
        frames = rng.normal(size=(30, v2.feature_dim())).astype(np.float32)
        frames[:, v2.presence_columns()] = rng.integers(0, 2, size=(30, 4))
        arrays.append(frames)
    parts = [ExactMoments.of(Moments(*v2.present_moments(a))) for a in arrays]
    total = as_a_runner_would(MomentsTotal(), parts, random.Random(6)).rounded()
    whole = Moments(*v2.present_moments(np.concatenate(arrays)))
    assert (total.count == whole.count).all()
    np.testing.assert_allclose(total.total, whole.total, rtol=1e-12)


def test_nothing_to_sum_is_none():
    fn = MomentsTotal()
    assert fn.extract_output(fn.merge_accumulators([fn.create_accumulator(), fn.create_accumulator()])) is None
