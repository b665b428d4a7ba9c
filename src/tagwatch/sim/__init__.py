"""A deterministic synthetic population of monitored subjects with known ground truth.

    sim = simulate(Scenario(seed=7, subjects=200, days=5))

gives subjects, devices, orders, a `RuleBook`, the fixes and device events as they reached
the server (in arrival order), and the truth: what the people really did.
"""

from tagwatch.sim.model import NearMiss, Scenario, Simulation, TruthViolation
from tagwatch.sim.population import simulate

__all__ = ["NearMiss", "Scenario", "Simulation", "TruthViolation", "simulate"]
