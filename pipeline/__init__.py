"""GhSL preprocessing: options, the Beam graph and the entry points."""
