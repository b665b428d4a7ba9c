"""Device gateways: network listeners that speak device protocols (TCP, MQTT).

A gateway decodes with a pure `tagwatch.protocols` module, admits the device, appends its
records durably to the log through `tagwatch.service.ingest.Ingest`, and only then
acknowledges the device. Gateways that can reach a tag (to warn its wearer) offer
`CommandSender.send_command`; its failures are the exceptions below.
"""

from __future__ import annotations

from typing import Protocol


class CommandError(Exception):
    """A command could not be delivered to a device, or got no answer."""

    def __init__(self, device_id: str, message: str) -> None:
        super().__init__(message)
        self.device_id = device_id


class DeviceNotConnected(CommandError):  # noqa: N818 - reads as what happened
    """The device has no open connection to this gateway: try again when it reports."""

    def __init__(self, device_id: str) -> None:
        super().__init__(device_id, f"device {device_id!r} is not connected")


class CommandTimeout(CommandError):  # noqa: N818 - reads as what happened
    """The command was sent but the device did not answer in time."""

    def __init__(self, device_id: str, timeout_s: float) -> None:
        super().__init__(device_id, f"device {device_id!r} did not answer within {timeout_s:g} s")
        self.timeout_s = timeout_s


class CommandSender(Protocol):
    """What a wearer-notification dispatcher needs of a gateway."""

    def connected(self, device_id: str) -> bool: ...

    async def send_command(self, device_id: str, text: str, *, timeout_s: float) -> str:
        """Deliver `text` and return the device's answer; CommandError subclasses if not."""
        ...


__all__ = ["CommandError", "CommandSender", "CommandTimeout", "DeviceNotConnected"]
