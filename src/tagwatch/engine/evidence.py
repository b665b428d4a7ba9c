"""Judging a fix against a zone: a circle of uncertainty against a boundary.

A fix is INSIDE a zone when its whole 95 % circle is inside, OUTSIDE when wholly outside,
and UNCERTAIN otherwise. For the episode logic the engine turns that into *evidence* about
the rule: violating, compliant, or uncertain leaning one way or the other.
"""

from __future__ import annotations

import math
from enum import IntEnum, StrEnum

import numpy as np
import numpy.typing as npt

# The 95 % radius of a 2-D normal error with per-axis deviation sigma is sigma * sqrt(-2 ln
# 0.05); the evidence model needs sigma back from the reported radius.
SIGMA_PER_95_RADIUS = 1.0 / math.sqrt(-2.0 * math.log(0.05))


class Classification(StrEnum):
    INSIDE = "inside"
    OUTSIDE = "outside"
    UNCERTAIN = "uncertain"


def classify(signed_distance_m: float, accuracy_m: float) -> Classification:
    """`signed_distance_m` > 0 inside the zone; the fix circle has radius `accuracy_m`."""
    if signed_distance_m > accuracy_m:
        return Classification.INSIDE
    if signed_distance_m < -accuracy_m:
        return Classification.OUTSIDE
    return Classification.UNCERTAIN


class Evidence(IntEnum):
    """What one fix says about one rule at its time. Ordered: larger is more violating."""

    NONE = 0  # no usable position
    INACTIVE = 1  # the rule does not apply at this time
    COMPLIANT = 2  # circle wholly on the allowed side
    LEAN_COMPLIANT = 3  # uncertain, centre on the allowed side
    WARNING = 4  # allowed side, but within an exclusion zone's warning buffer
    LEAN_VIOLATING = 5  # uncertain, centre on the violating side
    VIOLATING = 6  # circle wholly on the violating side


def evidence_codes(
    violation_margin_m: npt.NDArray[np.float64],
    accuracy_m: npt.NDArray[np.float64],
    warning_m: npt.NDArray[np.float64],
    active: npt.NDArray[np.bool_],
    valid: npt.NDArray[np.bool_],
    beacon_home: npt.NDArray[np.bool_],
    confirm_radii: npt.NDArray[np.float64] | float = 1.0,
) -> npt.NDArray[np.int8]:
    """Evidence for many (fix, slot) pairs at once.

    `violation_margin_m` is the signed distance measured towards the violating side (inside
    for an exclusion zone, outside for an inclusion zone). `beacon_home` marks curfew pairs
    whose home beacon was in range at the fix time: that counts as home whatever GPS says.
    A fix is VIOLATING when its margin exceeds `confirm_radii` accuracy radii (the whole
    circle on the violating side at 1; curfews ask for more, `EngineSettings`); between 0
    and that it leans violating.
    """
    margin = violation_margin_m
    code = np.full(margin.shape, Evidence.LEAN_COMPLIANT, np.int8)
    code[margin > 0] = Evidence.LEAN_VIOLATING
    code[margin > accuracy_m * confirm_radii] = Evidence.VIOLATING
    code[margin < -accuracy_m] = Evidence.COMPLIANT
    in_buffer = (margin <= 0) & (margin >= -warning_m) & (warning_m > 0)
    code[in_buffer] = Evidence.WARNING
    code[~valid] = Evidence.NONE
    code[beacon_home] = Evidence.COMPLIANT
    code[~active] = Evidence.INACTIVE
    return code


def violation_probability(margin_m: float, accuracy_m: float) -> float:
    """Probability that the true position is on the violating side of a straight boundary."""
    sigma = max(accuracy_m, 1.0) * SIGMA_PER_95_RADIUS
    return 0.5 * (1.0 + math.erf(margin_m / (sigma * math.sqrt(2.0))))
