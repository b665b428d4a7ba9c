"""A fix is a circle, not a point: how one fix is judged against one boundary.

`classify` says whether the fix circle lies wholly inside, wholly outside or across the
boundary; `evidence_codes` turns that into what the fix says about a rule (violating,
compliant, leaning one way, in the warning buffer, not applicable, unusable).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tagwatch.engine.evidence import (
    Classification,
    Evidence,
    classify,
    evidence_codes,
    violation_probability,
)

INSIDE, OUTSIDE, UNCERTAIN = Classification.INSIDE, Classification.OUTSIDE, Classification.UNCERTAIN


@pytest.mark.parametrize(
    ("signed_distance_m", "accuracy_m", "expected"),
    [
        pytest.param(1.0, 20.0, UNCERTAIN, id="inside by 1 m with 20 m accuracy is uncertain"),
        pytest.param(21.0, 20.0, INSIDE, id="inside by 21 m with 20 m accuracy is inside"),
        pytest.param(20.0, 20.0, UNCERTAIN, id="inside by exactly the accuracy is uncertain"),
        pytest.param(20.001, 20.0, INSIDE, id="inside by a hair more than the accuracy"),
        pytest.param(-25.0, 20.0, OUTSIDE, id="outside by 25 m with 20 m accuracy is outside"),
        pytest.param(-19.0, 20.0, UNCERTAIN, id="outside by 19 m with 20 m accuracy is uncertain"),
        pytest.param(-20.0, 20.0, UNCERTAIN, id="outside by exactly the accuracy is uncertain"),
        pytest.param(-20.001, 20.0, OUTSIDE, id="outside by a hair more than the accuracy"),
        pytest.param(0.0, 20.0, UNCERTAIN, id="on the boundary with 20 m accuracy is uncertain"),
        pytest.param(0.0, 0.0, UNCERTAIN, id="on the boundary with perfect accuracy is uncertain"),
        pytest.param(0.001, 0.0, INSIDE, id="a millimetre inside with perfect accuracy"),
        pytest.param(-0.001, 0.0, OUTSIDE, id="a millimetre outside with perfect accuracy"),
        pytest.param(5000.0, 80.0, INSIDE, id="deep inside with poor accuracy is inside"),
        pytest.param(-5000.0, 80.0, OUTSIDE, id="far outside with poor accuracy is outside"),
        pytest.param(79.0, 80.0, UNCERTAIN, id="inside by 79 m with 80 m accuracy is uncertain"),
    ],
)
def test_a_fix_circle_is_inside_outside_or_uncertain(
    signed_distance_m: float, accuracy_m: float, expected: Classification
) -> None:
    assert classify(signed_distance_m, accuracy_m) is expected


@given(
    distance=st.floats(-10_000, 10_000, allow_nan=False),
    accuracy=st.floats(0, 500, allow_nan=False),
)
def test_classification_is_decided_by_the_distance_against_the_accuracy(
    distance: float, accuracy: float
) -> None:
    expected = INSIDE if distance > accuracy else OUTSIDE if distance < -accuracy else UNCERTAIN
    assert classify(distance, accuracy) is expected
    # Mirror image: outside by d is judged like inside by d, with the sides swapped.
    mirrored = {INSIDE: OUTSIDE, OUTSIDE: INSIDE, UNCERTAIN: UNCERTAIN}[expected]
    assert classify(-distance, accuracy) is mirrored


# --- evidence codes: margin measured towards the violating side ---

E = Evidence


@pytest.mark.parametrize(
    ("margin_m", "accuracy_m", "warning_m", "active", "valid", "beacon_home", "expected"),
    [
        pytest.param(30, 10, 0, True, True, False, E.VIOLATING, id="violating beyond accuracy"),
        pytest.param(5, 20, 0, True, True, False, E.LEAN_VIOLATING, id="uncertain leaning in"),
        pytest.param(-5, 20, 0, True, True, False, E.LEAN_COMPLIANT, id="uncertain leaning out"),
        pytest.param(0, 20, 0, True, True, False, E.LEAN_COMPLIANT, id="centre on the boundary"),
        pytest.param(-25, 20, 0, True, True, False, E.COMPLIANT, id="compliant beyond accuracy"),
        pytest.param(20, 20, 0, True, True, False, E.LEAN_VIOLATING, id="in by exactly accuracy"),
        pytest.param(-20, 20, 0, True, True, False, E.LEAN_COMPLIANT, id="out by exactly accuracy"),
        pytest.param(-25, 20, 50, True, True, False, E.WARNING, id="in the warning buffer"),
        pytest.param(-50, 5, 50, True, True, False, E.WARNING, id="at the buffer's outer edge"),
        pytest.param(-5, 20, 50, True, True, False, E.WARNING, id="uncertain, in the buffer"),
        pytest.param(-60, 5, 50, True, True, False, E.COMPLIANT, id="beyond the warning buffer"),
        pytest.param(30, 10, 50, True, True, False, E.VIOLATING, id="inside, buffer irrelevant"),
        pytest.param(5, 20, 50, True, True, False, E.LEAN_VIOLATING, id="leaning in, buffer"),
        pytest.param(30, 10, 0, False, True, False, E.INACTIVE, id="inactive rule"),
        pytest.param(30, 10, 0, False, False, False, E.INACTIVE, id="inactive beats invalid"),
        pytest.param(30, 10, 0, True, False, False, E.NONE, id="invalid fix says nothing"),
        pytest.param(900, 10, 0, True, True, True, E.COMPLIANT, id="beacon home beats gps away"),
        pytest.param(900, 10, 0, True, False, True, E.COMPLIANT, id="beacon home without gps"),
        pytest.param(900, 10, 0, False, True, True, E.INACTIVE, id="beacon, rule inactive"),
    ],
)
def test_evidence_code_of_one_fix_against_one_rule(
    margin_m: float,
    accuracy_m: float,
    warning_m: float,
    active: bool,
    valid: bool,
    beacon_home: bool,
    expected: Evidence,
) -> None:
    code = evidence_codes(
        np.array([margin_m], np.float64),
        np.array([accuracy_m], np.float64),
        np.array([warning_m], np.float64),
        np.array([active]),
        np.array([valid]),
        np.array([beacon_home]),
    )
    assert code.dtype == np.int8
    assert Evidence(int(code[0])) is expected


def test_evidence_codes_judge_every_pair_of_a_batch_independently() -> None:
    code = evidence_codes(
        np.array([30.0, -5.0, -25.0, -25.0, 30.0, 900.0]),
        np.array([10.0, 20.0, 20.0, 20.0, 10.0, 10.0]),
        np.array([0.0, 0.0, 0.0, 50.0, 0.0, 0.0]),
        np.array([True, True, True, True, False, True]),
        np.array([True, True, True, True, True, True]),
        np.array([False, False, False, False, False, True]),
    )
    assert [Evidence(int(c)) for c in code] == [
        E.VIOLATING,
        E.LEAN_COMPLIANT,
        E.COMPLIANT,
        E.WARNING,
        E.INACTIVE,
        E.COMPLIANT,
    ]


@settings(max_examples=200)
@given(
    margin=st.floats(-2000, 2000, allow_nan=False),
    accuracy=st.floats(0, 200, allow_nan=False),
)
def test_evidence_without_a_buffer_agrees_with_the_classification(
    margin: float, accuracy: float
) -> None:
    code = evidence_codes(
        np.array([margin]),
        np.array([accuracy]),
        np.array([0.0]),
        np.array([True]),
        np.array([True]),
        np.array([False]),
    )
    evidence = Evidence(int(code[0]))
    expected = {
        INSIDE: {E.VIOLATING},
        OUTSIDE: {E.COMPLIANT},
        UNCERTAIN: {E.LEAN_VIOLATING, E.LEAN_COMPLIANT},
    }[classify(margin, accuracy)]
    assert evidence in expected
    if evidence in (E.LEAN_VIOLATING, E.LEAN_COMPLIANT):
        assert (evidence is E.LEAN_VIOLATING) == (margin > 0)


@pytest.mark.parametrize(
    ("margin_m", "accuracy_m", "low", "high"),
    [
        pytest.param(0.0, 20.0, 0.5, 0.5, id="on the boundary is a coin toss"),
        pytest.param(20.0, 20.0, 0.99, 0.995, id="in by the 95 % radius is near certain"),
        pytest.param(-20.0, 20.0, 0.005, 0.01, id="out by the 95 % radius is near impossible"),
        pytest.param(5.0, 20.0, 0.6, 0.8, id="in by a quarter of the radius is likely"),
        pytest.param(1.0, 0.0, 0.99, 0.995, id="zero accuracy counts as one metre"),
    ],
)
def test_violation_probability_follows_the_error_model(
    margin_m: float, accuracy_m: float, low: float, high: float
) -> None:
    assert low <= violation_probability(margin_m, accuracy_m) <= high


@given(
    margin=st.floats(-500, 500, allow_nan=False),
    more=st.floats(0.01, 100, allow_nan=False),
    accuracy=st.floats(1, 200, allow_nan=False),
)
def test_violation_probability_grows_with_depth_and_is_symmetric(
    margin: float, more: float, accuracy: float
) -> None:
    p = violation_probability(margin, accuracy)
    assert 0.0 <= p <= 1.0
    assert violation_probability(margin + more, accuracy) >= p
    assert violation_probability(-margin, accuracy) == pytest.approx(1.0 - p, abs=1e-12)
