"""Users: Argon2 passwords, roles."""

from __future__ import annotations

import pytest
from contractkit import T0, minutes

from tagwatch.store import ConflictError, Store
from tagwatch.store.records import User, UserRole


def test_a_user_signs_in_only_with_the_right_password(store: Store) -> None:
    created = store.users.create_user("kim", "correct horse", UserRole.OPERATOR, now=T0)
    assert created == User("kim", UserRole.OPERATOR, T0)
    assert store.users.verify_password("kim", "correct horse") == created
    assert store.users.verify_password("kim", "Correct horse") is None
    assert store.users.verify_password("kim", "") is None
    assert store.users.verify_password("nobody", "correct horse") is None
    assert store.users.get_user("kim") == created


def test_a_username_is_taken_once(store: Store) -> None:
    store.users.create_user("kim", "one", UserRole.VIEWER, now=T0)
    with pytest.raises(ConflictError):
        store.users.create_user("kim", "two", UserRole.ADMIN, now=minutes(1))
    assert store.users.verify_password("kim", "one") is not None
    assert store.users.get_user("kim") == User("kim", UserRole.VIEWER, T0)


def test_a_new_password_replaces_the_old(store: Store) -> None:
    store.users.create_user("kim", "old", UserRole.VIEWER, now=T0)
    assert store.users.set_password("kim", "new") is True
    assert store.users.verify_password("kim", "old") is None
    assert store.users.verify_password("kim", "new") is not None
    assert store.users.set_password("nobody", "new") is False


def test_roles_change_and_users_are_listed_and_deleted(store: Store) -> None:
    store.users.create_user("sam", "pw", UserRole.VIEWER, now=T0)
    store.users.create_user("alex", "pw", UserRole.ADMIN, now=minutes(1))
    assert store.users.set_role("sam", UserRole.OPERATOR) is True
    assert store.users.set_role("nobody", UserRole.ADMIN) is False
    assert store.users.list_users() == [
        User("alex", UserRole.ADMIN, minutes(1)),
        User("sam", UserRole.OPERATOR, T0),
    ]
    assert store.users.delete_user("sam") is True
    assert store.users.delete_user("sam") is False
    assert store.users.verify_password("sam", "pw") is None
    assert [u.username for u in store.users.list_users()] == ["alex"]


def test_empty_passwords_are_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="empty"):
        store.users.create_user("kim", "", UserRole.VIEWER, now=T0)
    assert store.users.get_user("kim") is None
