"""Devices (tags, home monitoring units, carried devices), their secrets, and the devices
refused at ingest because nobody registered them."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, status

from tagwatch.api.deps import AdminDep, ClockDep, IngestDep, QueriesDep
from tagwatch.api.schemas.people import (
    DeviceCreate,
    DevicePublic,
    DeviceSecretPublic,
    DeviceSecretSet,
    DeviceUpdate,
    UnknownDevicePublic,
)
from tagwatch.api.schemas.users import DeviceSecretRotate, DeviceSecretRotated
from tagwatch.service.access import OrgAction

router = APIRouter(prefix="/devices", tags=["devices"])
unknown = APIRouter(prefix="/unknown-devices", tags=["devices"])


@router.get("", response_model=list[DevicePublic])
def list_devices(*, queries: QueriesDep) -> list[DevicePublic]:
    return [DevicePublic.of(device) for device in queries.devices()]


@router.post("", response_model=DevicePublic, status_code=status.HTTP_201_CREATED)
def create_device(*, body: DeviceCreate, admin: AdminDep) -> DevicePublic:
    return DevicePublic.of(admin.create_device(body.to_domain()))


@router.get("/{device_id}", response_model=DevicePublic)
def get_device(*, device_id: str, queries: QueriesDep, clock: ClockDep) -> DevicePublic:
    """The device, whether it has a secret, and whom it is fitted to now."""
    return DevicePublic.of_detail(queries.device(device_id, at=clock.now()))


@router.patch("/{device_id}", response_model=DevicePublic)
def update_device(*, device_id: str, body: DeviceUpdate, admin: AdminDep) -> DevicePublic:
    return DevicePublic.of(admin.update_device(device_id, body.to_changes()))


@router.put("/{device_id}/secret", response_model=DeviceSecretPublic)
def set_device_secret(
    *, device_id: str, body: DeviceSecretSet, admin: AdminDep
) -> DeviceSecretPublic:
    """Set the device's secret (or generate one): shown once, only a hash is kept. From
    then on the device must send it (OsmAnd `?key=` or basic auth; the batch upload)."""
    secret = admin.set_device_secret(device_id, body.secret)
    return DeviceSecretPublic(device_id=device_id, secret=secret)


@router.post("/{device_id}/secret/rotate", response_model=DeviceSecretRotated)
def rotate_device_secret(
    *, device_id: str, body: DeviceSecretRotate, admin: AdminDep
) -> DeviceSecretRotated:
    """A new generated secret (shown once); the old one keeps working for `grace_s`
    seconds so the tag can be reconfigured without losing reports. 404 without a secret."""
    secret, until = admin.rotate_device_secret(device_id, grace=timedelta(seconds=body.grace_s))
    return DeviceSecretRotated(device_id=device_id, secret=secret, previous_valid_until=until)


@router.delete("/{device_id}/secret", status_code=status.HTTP_204_NO_CONTENT)
def revoke_device_secret(*, device_id: str, admin: AdminDep) -> None:
    admin.revoke_device_secret(device_id)


@unknown.get("", response_model=list[UnknownDevicePublic])
def list_unknown_devices(*, ingest: IngestDep, admin: AdminDep) -> list[UnknownDevicePublic]:
    """Devices whose reports were refused because they are not registered, most recently
    seen first: register one (POST /devices) and its retries are accepted."""
    admin.require(OrgAction.MANAGE_DEVICES)
    return [UnknownDevicePublic.of(seen) for seen in ingest.unknown_devices()]
