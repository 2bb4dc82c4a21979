"""A CombineFn driven as a runner may drive it: bundles of any size, combiner lifting, merges in any order."""
import random


def as_a_runner_would(fn, inputs, rng: random.Random):
    """Shuffle the inputs, cut them into bundles, pre-combine each, then merge the partial sums in a random
    tree, with empty accumulators thrown in (a worker that got no element)."""
    inputs = list(inputs)
    rng.shuffle(inputs)
    accumulators, i = [], 0
    while i < len(inputs):
        size = rng.randint(1, max(1, len(inputs) // 3))
        accumulator = fn.create_accumulator()
        for item in inputs[i:i + size]:
            accumulator = fn.add_input(accumulator, item)
        accumulators.append(accumulator)
        i += size
    accumulators += [fn.create_accumulator() for _ in range(rng.randint(0 if accumulators else 1, 2))]
    while len(accumulators) > 1:
        rng.shuffle(accumulators)
        k = rng.randint(2, len(accumulators))
        accumulators = [fn.merge_accumulators(accumulators[:k])] + accumulators[k:]
    return fn.extract_output(accumulators[0])
