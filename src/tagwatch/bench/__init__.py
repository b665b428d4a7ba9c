"""Benchmarks (`tagwatch bench ...`): each prints a JSON summary as its last line."""
