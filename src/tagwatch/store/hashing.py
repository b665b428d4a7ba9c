"""Argon2id hashes for user passwords and device secrets; the plain text is never stored.

A store takes a `SecretHasher` so tests can use the cheapest parameters; production uses
argon2-cffi's defaults (RFC 9106 low-memory profile). A hash made with older parameters is
replaced on the next successful check (`needs_rehash`).
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from argon2.profiles import CHEAPEST


class SecretHasher:
    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self._hasher = hasher if hasher is not None else PasswordHasher()
        self._decoy: str | None = None

    @classmethod
    def cheapest(cls) -> SecretHasher:
        """Fast and weak: for tests only."""
        return cls(PasswordHasher.from_parameters(CHEAPEST))

    def hash(self, secret: str) -> str:
        if not secret:
            raise ValueError("a secret must not be empty")
        return self._hasher.hash(secret)

    def verify(self, secret_hash: str, secret: str) -> bool:
        try:
            return self._hasher.verify(secret_hash, secret)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, secret_hash: str) -> bool:
        return self._hasher.check_needs_rehash(secret_hash)

    def spend(self, secret: str) -> None:
        """Take as long as a real check, so an unknown name cannot be told by timing."""
        if self._decoy is None:
            self._decoy = self._hasher.hash("decoy secret, never anyone's")
        self.verify(self._decoy, secret)
