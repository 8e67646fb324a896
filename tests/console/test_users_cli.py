"""``psinfor users``: local console users with argon2id hashes; passwords never on the command line."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from integration.cli import main
from integration.config import get_settings
from integration.store.repository import Store
from integration.web.console.auth import authenticate


@pytest.fixture
def cli(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def test_users_add_hashes_the_password_and_checks_its_input(cli: CliRunner, sqlite_url: str) -> None:
    result = cli.invoke(main, ["users", "add", "ana", "--role", "operator", "--password-stdin"],
                        input="a long enough password\n")
    assert result.exit_code == 0, result.output
    assert "user ana added (operator)" in result.output
    store = Store(sqlite_url)
    user = store.get_user("ana")
    assert user.role == "operator" and user.password_hash.startswith("$argon2id$")
    assert "a long enough password" not in user.password_hash
    assert authenticate(store, "ana", "a long enough password") is not None
    assert authenticate(store, "ana", "a wrong password") is None

    again = cli.invoke(main, ["users", "add", "ana", "--role", "viewer", "--password-stdin"], input="x" * 12 + "\n")
    assert again.exit_code == 1 and "already exists" in again.output
    short = cli.invoke(main, ["users", "add", "bob", "--role", "viewer", "--password-stdin"], input="short\n")
    assert short.exit_code == 2 and "at least 10 characters" in short.output
    role = cli.invoke(main, ["users", "add", "bob", "--role", "root", "--password-stdin"], input="x" * 12 + "\n")
    assert role.exit_code == 2 and "viewer" in role.output
    prompted = cli.invoke(main, ["users", "add", "eve", "--role", "admin"],
                          input="prompted password\nprompted password\n")
    assert prompted.exit_code == 0 and store.get_user("eve").role == "admin"


def test_users_list_passwd_and_disable(cli: CliRunner, sqlite_url: str) -> None:
    cli.invoke(main, ["users", "add", "ana", "--role", "viewer", "--password-stdin"], input="first password 1\n")
    assert "ana" in cli.invoke(main, ["users", "list"]).output
    assert cli.invoke(main, ["users", "passwd", "ana", "--password-stdin"], input="second password 2\n").exit_code == 0
    store = Store(sqlite_url)
    assert authenticate(store, "ana", "second password 2") is not None
    assert cli.invoke(main, ["users", "set", "ana", "--role", "admin", "--disable"]).exit_code == 0
    assert authenticate(store, "ana", "second password 2") is None  # disabled
    assert store.get_user("ana").role == "admin"
    assert [a.action for a in store.audit_entries(user_name="cli")] == ["user:set", "user:passwd", "user:add"]
    assert cli.invoke(main, ["users", "passwd", "nobody", "--password-stdin"], input="x" * 12).exit_code == 1
