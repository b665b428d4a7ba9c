"""`tagwatch user add` and `tagwatch import subjects|orders|zones`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tagwatch.cli import app
from tagwatch.domain.people import Subject
from tagwatch.store import SqliteStore, Store
from tagwatch.store.records import UserRole

runner = CliRunner()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "tagwatch.db"


@pytest.fixture
def store(db: Path) -> Iterator[Store]:
    opened = SqliteStore(db)
    opened.open()
    yield opened
    opened.close()


def _run(*args: str, input_text: str | None = None) -> tuple[int, str]:
    result = runner.invoke(app, list(args), input=input_text)
    return result.exit_code, result.output


def test_every_new_command_has_help() -> None:
    for command in (["serve"], ["user"], ["user", "add"], ["import"]):
        code, output = _run(*command, "--help")
        assert code == 0, output
        assert "Usage" in output


def test_a_user_is_added_with_a_role(db: Path, store: Store) -> None:
    code, output = _run(
        "user", "add", "ada", "--role", "admin", "--password", "long enough", "--db", str(db)
    )
    assert code == 0, output
    assert "added ada (admin)" in output
    user = store.users.verify_password("ada", "long enough")
    assert user is not None and user.role is UserRole.ADMIN
    code, output = _run("user", "add", "ada", "--password", "long enough", "--db", str(db))
    assert code == 1 and "taken" in output


def test_a_user_password_is_prompted_for(db: Path, store: Store) -> None:
    code, output = _run(
        "user", "add", "bob", "--db", str(db), input_text="a secret pw\na secret pw\n"
    )
    assert code == 0, output
    assert store.users.verify_password("bob", "a secret pw") is not None


def test_subjects_orders_and_zones_are_imported(tmp_path: Path, db: Path, store: Store) -> None:
    subjects = tmp_path / "subjects.csv"
    subjects.write_text("id,name,risk_level,reference\ns-1,Sam Example,high,PNC1\ns-2,Alex,,\n")
    code, output = _run("import", "subjects", str(subjects), "--db", str(db))
    assert code == 0, output
    assert "2 created, 0 updated" in output
    assert [s.risk_level.value for s in store.subjects.list_subjects()] == ["high", "medium"]

    orders = tmp_path / "orders.csv"
    orders.write_text(
        "id,subject_id,order_type,start,end,time_zone,reference,conditions\n"
        "o-1,s-1,court_bail,2026-11-01T00:00:00Z,,Europe/London,T1,curfew 19-07;exclusion\n"
    )
    code, output = _run("import", "orders", str(orders), "--db", str(db))
    assert code == 0, output
    order = store.orders.get_order("o-1")
    assert order is not None and order.conditions == ("curfew 19-07", "exclusion")

    zones = tmp_path / "zones.geojson"
    feature = {
        "type": "Feature",
        "id": "z-1",
        "geometry": {"type": "Point", "coordinates": [-0.336, 51.752], "radius_m": 250},
        "properties": {"subject_id": "s-1", "kind": "exclusion", "order_id": "o-1"},
    }
    zones.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
    code, output = _run("import", "zones", str(zones), "--db", str(db))
    assert code == 0, output
    zone = store.zones.get_zone("z-1")
    assert zone is not None and zone.order_id == "o-1"

    subjects.write_text("id,name\ns-1,Sam Renamed\n")
    code, output = _run("import", "subjects", str(subjects), "--db", str(db))
    assert "0 created, 1 updated" in output
    renamed = store.subjects.get_subject("s-1")
    assert renamed is not None and renamed.name == "Sam Renamed"


@pytest.mark.parametrize(
    ("kind", "content", "message"),
    [
        ("subjects", "id,name,shoe\ns-1,Sam,9\n", "unknown columns"),
        ("subjects", "id,name,risk_level\ns-1,Sam,extreme\n", "row 2: risk_level"),
        (
            "orders",
            "id,subject_id,order_type,start\n"
            "o-1,s-1,licence,2026-11-01T00:00:00Z\n"
            "o-2,nobody,licence,2026-11-01T00:00:00Z\n",
            "no subject",
        ),
        ("orders", "id,subject_id,order_type,start\no-1,s-1,licence,2026-11-01\n", "start"),
        ("zones", "{}", "FeatureCollection"),
        ("zones", "not json", "not JSON"),
        ("zones", '{"type": "FeatureCollection", "features": [{"type": "Feature"}]}', "feature 0"),
    ],
)
def test_a_bad_file_imports_nothing_and_says_where(
    tmp_path: Path, db: Path, store: Store, kind: str, content: str, message: str
) -> None:
    store.subjects.save_subject(Subject("s-1", "Sam"))
    path = tmp_path / "input"
    path.write_text(content)
    code, output = _run("import", kind, str(path), "--db", str(db))
    assert code == 1
    assert message in output
    assert store.orders.list_orders() == [] and store.zones.list_zones() == []
