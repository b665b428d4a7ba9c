"""Who may see and do what, about which subject: the one table, and the checks behind it.

Every user belongs to one organisation; every subject has one managing organisation. What a
user may do with a subject depends on their role and on how their organisation relates to
the subject:

- MANAGED: their organisation manages the subject;
- NATIONAL: their organisation is the administrators or the monitoring centre, which sees
  every subject (tagwatch assumes one national monitoring centre that monitors every tag, as
  in England and Wales; a centre per region would be organisations with grants instead);
- SHARED: the managing organisation granted their organisation access, and the grant is in
  force now (from <= now < until, not revoked); an expired grant gives nothing;
- NONE: anything else.

Roles: ADM admin, MON monitoring_operator, POL police_officer, PRB probation_officer,
AUD auditor, VIE viewer. Relations allowed: M managed, N national, S shared, - none.

| subject action | records it covers | ADM | MON | POL | PRB | AUD | VIE |
|---|---|---|---|---|---|---|---|
| read_records | subject, orders, requirements, tags, alerts | MNS | MNS | MNS | MNS | - | MNS |
| read_live | latest positions, positions on the live feed | MNS | MNS | MNS | MNS | - | MNS |
| read_history | trail, export, proximity search (with a purpose) | MNS | MNS | MNS | MNS | - | - |
| work_alerts | acknowledge, escalate, resolve, reopen, note | MNS | MNS | MNS | MNS | - | - |
| manage_case | subject, orders, requirements, fitting tags | MN | - | - | M | - | - |
| share | grant/revoke another organisation access to the subject | MN | - | M | M | - | - |

Actions that are not about one subject:

| action | who |
|---|---|
| manage_devices | admin or monitoring_operator of a national organisation: devices, secrets |
| manage_users | admin: their organisation's users (administrators: everybody's) |
| manage_organisations | admin of an administrator organisation: organisations, moving subjects |
| read_audit | auditor; admin of an administrator organisation |

How refusals look: a subject (or a record of one: order, zone, alert...) outside the user's
reach is answered exactly like one that does not exist (404, "no subject 'x'"), so nobody
learns which subjects other organisations have. A record within reach that the role may not
touch is a 403 naming the role. Lists are filtered to what the user may read.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType

from tagwatch.service.audit import AuditContext
from tagwatch.service.auth import PermissionDenied
from tagwatch.service.clock import Clock
from tagwatch.store.contract import UnitOfWork
from tagwatch.store.errors import NotFoundError
from tagwatch.store.records import (
    DEFAULT_ORGANISATION_ID,
    OrganisationKind,
    User,
    UserRole,
)


class Relation(StrEnum):
    MANAGED = "managed"
    NATIONAL = "national"
    SHARED = "shared"
    NONE = "none"


class SubjectAction(StrEnum):
    READ_RECORDS = "read_records"
    READ_LIVE = "read_live"
    READ_HISTORY = "read_history"
    WORK_ALERTS = "work_alerts"
    MANAGE_CASE = "manage_case"
    SHARE = "share"


class OrgAction(StrEnum):
    MANAGE_DEVICES = "manage_devices"
    MANAGE_USERS = "manage_users"
    MANAGE_ORGANISATIONS = "manage_organisations"
    READ_AUDIT = "read_audit"


NATIONAL_KINDS = frozenset({OrganisationKind.ADMINISTRATOR, OrganisationKind.MONITORING_CENTRE})

_R, _A = UserRole, SubjectAction
_MNS = frozenset({Relation.MANAGED, Relation.NATIONAL, Relation.SHARED})
_MN = frozenset({Relation.MANAGED, Relation.NATIONAL})
_M = frozenset({Relation.MANAGED})
_NOTHING: frozenset[Relation] = frozenset()

# The table in the module docstring, as data: role -> action -> relations allowed.
SUBJECT_PERMISSIONS: MappingProxyType[
    UserRole, MappingProxyType[SubjectAction, frozenset[Relation]]
]
SUBJECT_PERMISSIONS = MappingProxyType(
    {
        role: MappingProxyType(actions)
        for role, actions in {
            _R.ADMIN: {
                _A.READ_RECORDS: _MNS,
                _A.READ_LIVE: _MNS,
                _A.READ_HISTORY: _MNS,
                _A.WORK_ALERTS: _MNS,
                _A.MANAGE_CASE: _MN,
                _A.SHARE: _MN,
            },
            _R.MONITORING_OPERATOR: {
                _A.READ_RECORDS: _MNS,
                _A.READ_LIVE: _MNS,
                _A.READ_HISTORY: _MNS,
                _A.WORK_ALERTS: _MNS,
                _A.MANAGE_CASE: _NOTHING,
                _A.SHARE: _NOTHING,
            },
            _R.POLICE_OFFICER: {
                _A.READ_RECORDS: _MNS,
                _A.READ_LIVE: _MNS,
                _A.READ_HISTORY: _MNS,
                _A.WORK_ALERTS: _MNS,
                _A.MANAGE_CASE: _NOTHING,
                _A.SHARE: _M,
            },
            _R.PROBATION_OFFICER: {
                _A.READ_RECORDS: _MNS,
                _A.READ_LIVE: _MNS,
                _A.READ_HISTORY: _MNS,
                _A.WORK_ALERTS: _MNS,
                _A.MANAGE_CASE: _M,
                _A.SHARE: _M,
            },
            _R.AUDITOR: {action: _NOTHING for action in SubjectAction},
            _R.VIEWER: {
                _A.READ_RECORDS: _MNS,
                _A.READ_LIVE: _MNS,
                _A.READ_HISTORY: _NOTHING,
                _A.WORK_ALERTS: _NOTHING,
                _A.MANAGE_CASE: _NOTHING,
                _A.SHARE: _NOTHING,
            },
        }.items()
    }
)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is asking: the user, their organisation's kind, and where the request came from."""

    username: str
    role: UserRole
    organisation_id: str
    organisation_kind: OrganisationKind
    source: str | None = None

    @classmethod
    def console(cls, source: str = "cli") -> Principal:
        """Someone at the server's console (the CLI): the file's owner can do anything."""
        return cls(
            "console",
            UserRole.ADMIN,
            DEFAULT_ORGANISATION_ID,
            OrganisationKind.ADMINISTRATOR,
            source,
        )

    @property
    def national(self) -> bool:
        return self.organisation_kind in NATIONAL_KINDS

    @property
    def audit_context(self) -> AuditContext:
        return AuditContext(
            username=self.username, organisation_id=self.organisation_id, source=self.source
        )

    def may(self, action: SubjectAction, relation: Relation) -> bool:
        return relation in SUBJECT_PERMISSIONS[self.role][action]

    def may_ever(self, action: SubjectAction) -> bool:
        return bool(SUBJECT_PERMISSIONS[self.role][action])

    def may_org(self, action: OrgAction) -> bool:
        admin_org = self.organisation_kind is OrganisationKind.ADMINISTRATOR
        if action is OrgAction.MANAGE_DEVICES:
            return self.national and self.role in (UserRole.ADMIN, UserRole.MONITORING_OPERATOR)
        if action is OrgAction.MANAGE_USERS:
            return self.role is UserRole.ADMIN
        if action is OrgAction.MANAGE_ORGANISATIONS:
            return admin_org and self.role is UserRole.ADMIN
        return self.role is UserRole.AUDITOR or (admin_org and self.role is UserRole.ADMIN)


@dataclass(frozen=True, slots=True)
class Scope:
    """The subjects a principal relates to at one instant (national: every subject)."""

    principal: Principal
    managed: frozenset[str]
    shared: frozenset[str]

    def relation(self, subject_id: str, managing_organisation_id: str | None) -> Relation:
        if managing_organisation_id == self.principal.organisation_id:
            return Relation.MANAGED
        if self.principal.national:
            return Relation.NATIONAL
        if managing_organisation_id is None:
            return Relation.NONE  # no such subject
        if subject_id in self.shared:
            return Relation.SHARED
        return Relation.NONE

    def allowed_relations(self, action: SubjectAction) -> frozenset[Relation]:
        return SUBJECT_PERMISSIONS[self.principal.role][action]

    def subject_filter(self, action: SubjectAction) -> frozenset[str] | None:
        """The subjects `action` may be done to: None means every subject (national reach).

        PermissionDenied if the role may not do it to any subject.
        """
        allowed = self.allowed_relations(action)
        if not allowed:
            raise _denied(self.principal, action)
        if self.principal.national and Relation.NATIONAL in allowed:
            return None
        found = set(self.managed) if Relation.MANAGED in allowed else set()
        if Relation.SHARED in allowed:
            found |= self.shared
        return frozenset(found)


def _denied(principal: Principal, action: SubjectAction | OrgAction) -> PermissionDenied:
    role = principal.role.value.replace("_", " ")
    kind = principal.organisation_kind.value.replace("_", " ")
    return PermissionDenied(
        f"{_a(role)} {role} of {_a(kind)} {kind} may not {action.value.replace('_', ' ')} here"
    )


def _a(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


class AccessPolicy:
    """The checks, reading organisations and grants from the store at the clock's now."""

    def __init__(self, store: UnitOfWork, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    def principal(self, user: User, source: str | None = None) -> Principal:
        organisation = self._store.organisations.get_organisation(user.organisation_id)
        if organisation is None:  # the reference is kept by the store; be safe regardless
            raise PermissionDenied(f"{user.username} belongs to no known organisation")
        return Principal(user.username, user.role, organisation.id, organisation.kind, source)

    def scope(self, principal: Principal, at: datetime | None = None) -> Scope:
        moment = self._clock.now() if at is None else at
        if principal.national:
            return Scope(principal, frozenset(), frozenset())
        managed = frozenset(self._store.organisations.managed_subjects(principal.organisation_id))
        shared = frozenset(self._store.grants.granted_subjects(principal.organisation_id, moment))
        return Scope(principal, managed, shared - managed)

    def relation(self, principal: Principal, subject_id: str) -> Relation:
        managing = self._store.organisations.subject_organisation(subject_id)
        if managing is not None and managing == principal.organisation_id:
            return Relation.MANAGED
        if principal.national:
            # Whether or not the subject exists: national reach hides nothing, and the
            # caller's own lookup answers 404 for a subject that is not there.
            return Relation.NATIONAL
        if managing is None:
            return Relation.NONE
        grants = self._store.grants.list_grants(
            subject_id=subject_id,
            grantee_organisation_id=principal.organisation_id,
            active_at=self._clock.now(),
        )
        return Relation.SHARED if grants else Relation.NONE

    def require(
        self, principal: Principal, action: SubjectAction, subject_id: str, *, kind: str = "subject"
    ) -> Relation:
        """The relation, if `action` is allowed on the subject.

        NotFoundError ("no <kind> '<key>'") when the subject is out of reach or missing: the
        caller passes `kind`/`key` of the record asked for so the answer is the same as for
        a record that does not exist. PermissionDenied when in reach but not allowed.
        """
        relation = self.relation(principal, subject_id)
        if relation is Relation.NONE:
            raise NotFoundError(f"no {kind} {subject_id!r}")
        if not principal.may(action, relation):
            raise _denied(principal, action)
        return relation

    def require_record(
        self, principal: Principal, action: SubjectAction, subject_id: str, kind: str, key: str
    ) -> Relation:
        """`require` for a record of a subject (an order, zone, alert): 404 names the record."""
        try:
            return self.require(principal, action, subject_id)
        except NotFoundError:
            raise NotFoundError(f"no {kind} {key!r}") from None

    def require_org(self, principal: Principal, action: OrgAction) -> None:
        if not principal.may_org(action):
            raise _denied(principal, action)

    def visible(
        self, principal: Principal, action: SubjectAction, subject_ids: Iterable[str]
    ) -> set[str]:
        """Which of `subject_ids` the principal may do `action` to (missing ones: none)."""
        wanted = set(subject_ids)
        if not wanted or not principal.may_ever(action):
            return set()
        allowed = self.scope(principal).subject_filter(action)
        if allowed is None:
            managing = self._store.organisations.subject_organisations(wanted)
            return set(managing)
        return wanted & allowed
