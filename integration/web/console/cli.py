"""``psinfor users``: the console's local users (argon2id hashes in the store). Passwords are prompted for
(hidden, twice) or read from standard input, never taken as an argument, so they stay out of shell history."""

from __future__ import annotations

import sys

import click

from integration.config import get_settings
from integration.store import models as m
from integration.store.repository import Store

from .auth import MIN_PASSWORD_LENGTH, hash_password


def _store() -> Store:
    return Store(get_settings().database_url)


def _password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    if len(password) < MIN_PASSWORD_LENGTH:
        raise click.BadParameter(f"at least {MIN_PASSWORD_LENGTH} characters", param_hint="password")
    return password


@click.group()
def users() -> None:
    """Console users: viewers read, operators replay/release/discard, admins also edit mappings."""


@users.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(m.ROLES), required=True)
@click.option("--password-stdin", is_flag=True, help="read the password from standard input (scripts)")
def users_add(name: str, role: str, password_stdin: bool) -> None:
    """Add a user NAME with a role."""
    name = name.strip()
    if not name or len(name) > 64:
        raise click.BadParameter("1 to 64 characters", param_hint="NAME")
    store = _store()
    if store.get_user(name) is not None:
        raise click.ClickException(f"a user named {name!r} already exists")
    try:
        store.add_user(name, hash_password(_password(password_stdin)), role)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    store.audit("cli", "user:add", name, detail={"role": role})
    click.echo(f"user {name} added ({role})")


@users.command("list")
def users_list() -> None:
    rows = _store().list_users()
    if not rows:
        click.echo("no users: add one with `psinfor users add NAME --role admin`")
    for u in rows:
        last = f"{u.last_login_at:%Y-%m-%d %H:%M}" if u.last_login_at else "never"
        click.echo(f"{u.name:<24} {u.role:<9} {'active' if u.active else 'disabled':<9} last login {last}")


@users.command("passwd")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="read the password from standard input (scripts)")
def users_passwd(name: str, password_stdin: bool) -> None:
    """Set a user's password (their open sessions end)."""
    store = _store()
    if store.get_user(name) is None:
        raise click.ClickException(f"no user {name!r}")
    store.update_user(name, password_hash=hash_password(_password(password_stdin)))
    store.audit("cli", "user:passwd", name)
    click.echo(f"password of {name} changed")


@users.command("set")
@click.argument("name")
@click.option("--role", type=click.Choice(m.ROLES), default=None)
@click.option("--disable/--enable", "disabled", default=None, help="a disabled user cannot log in")
def users_set(name: str, role: str | None, disabled: bool | None) -> None:
    """Change a user's role, or disable / enable them."""
    store = _store()
    if not store.update_user(name, role=role, active=None if disabled is None else not disabled):
        raise click.ClickException(f"no user {name!r}")
    store.audit("cli", "user:set", name, detail={"role": role, "disabled": disabled})
    click.echo(f"user {name} updated")
