"""The engine measures in a CRS that fits the zones, wherever in the world they are.

British National Grid (the default) is accurate across Great Britain and nowhere near it
elsewhere: 200 m in New York comes out as about 290 m. With the automatic choice, a zone in
any town is judged in metres that match the ground, measured here against geodesic
distances (pyproj.Geod on the WGS 84 ellipsoid), independently of the engine's projection.
"""

from __future__ import annotations

import numpy as np
import pytest
from enginekit import STEP, T0, Run, exclusion, rules_for
from hypothesis import given
from hypothesis import strategies as st
from pyproj import Geod

from tagwatch.domain.episodes import RuleKind
from tagwatch.domain.positions import Fix
from tagwatch.domain.rules import AUTO_CRS, DEFAULT_CRS, EngineSettings
from tagwatch.domain.zones import Circle
from tagwatch.engine import CompiledRules
from tagwatch.engine.projection import Projector, choose_crs

GEOD = Geod(ellps="WGS84")
NEW_YORK = (-73.9857, 40.7484)
TOWNS = {
    "St Albans": (-0.336, 51.752),
    "Belfast": (-5.93, 54.597),
    "Lerwick": (-1.145, 60.155),
    "Dublin": (-6.26, 53.35),
    "Berlin": (13.405, 52.52),
    "New York": NEW_YORK,
    "Sydney": (151.209, -33.868),
    "Sao Paulo": (-46.633, -23.55),
    "Nairobi": (36.817, -1.286),
    "Suva": (178.44, -18.14),
    "Anchorage": (-149.9, 61.218),
}


def test_zones_in_great_britain_keep_the_british_national_grid() -> None:
    lon, lat = zip(*[TOWNS["St Albans"], TOWNS["Lerwick"], TOWNS["Belfast"]], strict=True)
    assert choose_crs(AUTO_CRS, lon, lat) == DEFAULT_CRS
    # Paris lies east of the grid's area of use (9 degrees W to 2 degrees E): a UTM zone,
    # and with the British towns, the zone of the centre of them all.
    assert choose_crs(AUTO_CRS, [2.35], [48.85]) == "EPSG:32631"
    assert choose_crs(AUTO_CRS, [*lon, 2.35], [*lat, 48.85]) == "EPSG:32630"


def test_zones_elsewhere_get_the_utm_zone_of_their_centre() -> None:
    assert choose_crs(AUTO_CRS, [NEW_YORK[0]], [NEW_YORK[1]]) == "EPSG:32618"
    assert choose_crs(AUTO_CRS, [151.209], [-33.868]) == "EPSG:32756"  # south: 327xx
    # Zones on both sides of the antimeridian are centred on it, not on Greenwich.
    assert choose_crs(AUTO_CRS, [179.9, -179.9], [-17.0, -17.1]) in {"EPSG:32760", "EPSG:32701"}
    # Beyond UTM's latitudes: an azimuthal projection centred on the zones.
    polar = choose_crs(AUTO_CRS, [10.0], [88.0])
    assert "+proj=laea" in polar and "+lat_0=88.0" in polar


def test_a_configured_crs_is_kept_and_no_zones_means_the_default() -> None:
    assert choose_crs("EPSG:32630", [NEW_YORK[0]], [NEW_YORK[1]]) == "EPSG:32630"
    assert choose_crs(AUTO_CRS, [], []) == DEFAULT_CRS


def _rules_with_circle(
    centre: tuple[float, float], radius_m: float, crs: str = AUTO_CRS
) -> CompiledRules:
    zone = exclusion(Circle(centre[0], centre[1], radius_m))
    return rules_for(zones=[zone], settings=EngineSettings(crs=crs))


def _signed_distance(rules: CompiledRules, lon: float, lat: float) -> float:
    x, y = rules.projector.to_xy([lon], [lat])
    return float(rules.shapes.signed_distance(np.array([0]), x, y, np.inf)[0])


@given(
    town=st.sampled_from(sorted(TOWNS)),
    radius_m=st.floats(50.0, 2000.0),
    azimuth=st.floats(-180.0, 180.0),
    fraction=st.floats(0.0, 3.0),
)
def test_a_circle_is_judged_in_ground_metres_in_any_town(
    town: str, radius_m: float, azimuth: float, fraction: float
) -> None:
    lon0, lat0 = TOWNS[town]
    rules = _rules_with_circle((lon0, lat0), radius_m)
    ground_m = fraction * radius_m
    lon, lat, _ = GEOD.fwd(lon0, lat0, azimuth, ground_m)
    # Within 0.2 % of the geodesic distance: a UTM zone's scale error at its edge is 0.1 %.
    assert _signed_distance(rules, lon, lat) == pytest.approx(
        radius_m - ground_m, abs=0.002 * max(radius_m, ground_m) + 0.01
    )


def test_the_british_grid_in_new_york_would_misjudge_the_same_fix() -> None:
    """What the automatic choice prevents: the same question asked in EPSG:27700."""
    lon, lat, _ = GEOD.fwd(*NEW_YORK, 90.0, 150.0)  # 150 m east of the centre: 50 m inside
    right = _signed_distance(_rules_with_circle(NEW_YORK, 200.0), lon, lat)
    wrong = _signed_distance(_rules_with_circle(NEW_YORK, 200.0, DEFAULT_CRS), lon, lat)
    assert right == pytest.approx(50.0, abs=0.2)
    assert wrong < 0.0  # British National Grid puts the fix outside the zone


def test_a_subject_inside_a_new_york_exclusion_zone_opens_an_episode() -> None:
    """End to end through the engine: ten fixes 120 m from the centre of a 200 m exclusion
    circle in Manhattan (80 m inside, 10 m accuracy) open one exclusion episode, with the
    penetration measured on the ground."""
    run = Run(_rules_with_circle(NEW_YORK, 200.0))
    lon, lat, _ = GEOD.fwd(*NEW_YORK, 45.0, 120.0)
    run.one_by_one(Fix("tag-1", T0 + i * STEP, lat, lon, 10.0) for i in range(10))
    [episode] = run.episodes
    assert episode.rule is RuleKind.EXCLUSION
    assert episode.deepest_penetration_m == pytest.approx(80.0, abs=0.3)


def test_the_projector_accepts_the_polar_fallback() -> None:
    crs = choose_crs(AUTO_CRS, [10.0], [88.0])
    x, y = Projector(crs).to_xy([10.0], [88.0])
    assert abs(float(x[0])) < 1.0 and abs(float(y[0])) < 1.0  # centred on the zones
