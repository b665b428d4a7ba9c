"""A deterministic synthetic population of monitored subjects with known ground truth."""
