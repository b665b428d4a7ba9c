"""`tagwatch import`: subjects and orders from CSV, zones from GeoJSON, through the same
schemas and use cases as the API (so a file is checked exactly as a request would be).

Subjects CSV, header row required:   id,name,risk_level,reference
  (`name` required; `risk_level` low|medium|high|very_high, default medium)
Orders CSV:   id,subject_id,order_type,start,end,time_zone,reference,conditions
  (`start`/`end` ISO 8601 with a time zone; `end` may be empty; `conditions` separated by
  `;`; `order_type` e.g. court_bail, home_detention_curfew, licence)
Zones: a GeoJSON FeatureCollection whose features are what POST /api/v1/zones takes.

A record whose id exists is updated; the others are created. The whole file is read and
checked first, then written in one transaction: one bad row means nothing is imported.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from tagwatch.api.schemas.people import OrderCreate, SubjectCreate
from tagwatch.api.schemas.requirements import ZoneCreate
from tagwatch.domain.people import Order, Subject
from tagwatch.domain.zones import Zone
from tagwatch.service.admin import AdminService
from tagwatch.store.contract import UnitOfWork

SUBJECT_COLUMNS = ("id", "name", "risk_level", "reference")
ORDER_COLUMNS = (
    "id",
    "subject_id",
    "order_type",
    "start",
    "end",
    "time_zone",
    "reference",
    "conditions",
)
M = TypeVar("M", bound=BaseModel)


class ImportFileError(ValueError):
    """A file that cannot be imported; the message names the row and the field."""


@dataclass(frozen=True, slots=True)
class ImportResult:
    created: int
    updated: int


def _rows(path: Path, columns: tuple[str, ...]) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        header = reader.fieldnames or []
        unknown = [name for name in header if name not in columns]
        if unknown:
            raise ImportFileError(f"{path}: unknown columns {unknown} (expected {list(columns)})")
        return [
            {key: (value or "").strip() for key, value in row.items() if key is not None}
            for row in reader
        ]


def _parse(kind: type[M], items: Iterable[tuple[str, Any]]) -> list[M]:
    parsed = []
    for where, data in items:
        try:
            parsed.append(kind.model_validate(data))
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'row'}: {e['msg']}" for e in error.errors()
            )
            raise ImportFileError(f"{where}: {problems}") from None
    return parsed


def read_subjects(path: Path) -> list[Subject]:
    rows = _rows(path, SUBJECT_COLUMNS)
    items = (
        (f"{path} row {n}", {k: v for k, v in row.items() if v != ""})
        for n, row in enumerate(rows, start=2)
    )
    return [model.to_domain() for model in _parse(SubjectCreate, items)]


def read_orders(path: Path) -> list[Order]:
    items = []
    for n, row in enumerate(_rows(path, ORDER_COLUMNS), start=2):
        data: dict[str, Any] = {k: v for k, v in row.items() if v != "" and k != "conditions"}
        conditions = row.get("conditions", "")
        data["conditions"] = [c.strip() for c in conditions.split(";") if c.strip()]
        items.append((f"{path} row {n}", data))
    orders = []
    for where, model in zip((where for where, _ in items), _parse(OrderCreate, items), strict=True):
        try:
            orders.append(model.to_domain())
        except ValueError as error:
            raise ImportFileError(f"{where}: {error}") from None
    return orders


def read_zones(path: Path) -> list[Zone]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as error:
        raise ImportFileError(f"{path}: not JSON ({error})") from None
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection":
        raise ImportFileError(f"{path}: expected a GeoJSON FeatureCollection")
    features = document.get("features")
    if not isinstance(features, list):
        raise ImportFileError(f"{path}: the FeatureCollection has no features list")
    items = ((f"{path} feature {n}", feature) for n, feature in enumerate(features))
    return [model.to_domain() for model in _parse(ZoneCreate, items)]


def _upsert(
    records: list[Any],
    exists: Callable[[str], object | None],
    create: Callable[[Any], object],
    update: Callable[[str, dict[str, Any]], object],
) -> ImportResult:
    created = updated = 0
    for record in records:
        if exists(record.id) is None:
            create(record)
            created += 1
        else:
            fields = {name: getattr(record, name) for name in record.__dataclass_fields__}
            fields.pop("id")
            update(record.id, fields)
            updated += 1
    return ImportResult(created, updated)


def save_subjects(admin: AdminService, store: UnitOfWork, subjects: list[Subject]) -> ImportResult:
    return _upsert(subjects, store.subjects.get_subject, admin.create_subject, admin.update_subject)


def save_orders(admin: AdminService, store: UnitOfWork, orders: list[Order]) -> ImportResult:
    return _upsert(orders, store.orders.get_order, admin.create_order, admin.update_order)


def save_zones(admin: AdminService, store: UnitOfWork, zones: list[Zone]) -> ImportResult:
    return _upsert(zones, store.zones.get_zone, admin.create_zone, admin.update_zone)


@dataclass(frozen=True, slots=True)
class Importer:
    read: Callable[[Path], list[Any]]
    save: Callable[[AdminService, UnitOfWork, list[Any]], ImportResult]


IMPORTERS = {
    "subjects": Importer(read_subjects, save_subjects),
    "orders": Importer(read_orders, save_orders),
    "zones": Importer(read_zones, save_zones),
}
