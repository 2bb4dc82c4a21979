"""DoFns, CombineFns, composite PTransforms and the pure feature code they use."""
