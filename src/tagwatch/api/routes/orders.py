"""Orders: the legal instruments that require monitoring."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from tagwatch.api.deps import AdminDep, QueriesDep
from tagwatch.api.schemas.people import OrderCreate, OrderPublic, OrderUpdate

router = APIRouter(prefix="/orders", tags=["orders"])


@router.get("", response_model=list[OrderPublic])
def list_orders(
    *,
    subject_id: Annotated[str | None, Query()] = None,
    queries: QueriesDep,
) -> list[OrderPublic]:
    return [OrderPublic.of(order) for order in queries.orders(subject_id=subject_id)]


@router.post("", response_model=OrderPublic, status_code=status.HTTP_201_CREATED)
def create_order(*, body: OrderCreate, admin: AdminDep) -> OrderPublic:
    return OrderPublic.of(admin.create_order(body.to_domain()))


@router.get("/{order_id}", response_model=OrderPublic)
def get_order(*, order_id: str, queries: QueriesDep) -> OrderPublic:
    return OrderPublic.of(queries.order(order_id))


@router.patch("/{order_id}", response_model=OrderPublic)
def update_order(*, order_id: str, body: OrderUpdate, admin: AdminDep) -> OrderPublic:
    return OrderPublic.of(admin.update_order(order_id, body.to_changes()))
