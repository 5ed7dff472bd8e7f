"""`authserver users`: create people with local passwords; disable, enable, sign out;
platform roles."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup
from sqlalchemy.exc import IntegrityError

from authserver import audit
from authserver.extensions import db
from authserver.identity import accounts
from authserver.identity.passwords import PasswordPolicyError, hash_password
from authserver.models import PlatformRole, User
from authserver.models.users import PLATFORM_ROLES, normalize_email

users_cli = AppGroup("users", help="People: local passwords, disabling, signing out.")


@users_cli.command("create")
@click.option("--email", required=True)
@click.option("--name", "display_name", required=True, help="Display name.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option("--email-verified", is_flag=True, help="The operator vouches for the address.")
@click.option("--platform-role", type=click.Choice(PLATFORM_ROLES), help="Operator role.")
def users_create(
    email: str,
    display_name: str,
    password_stdin: bool,
    email_verified: bool,
    platform_role: str | None,
) -> None:
    """Create a person with a local password (argon2id)."""
    email = _checked_email(email)
    display_name = _checked_display_name(display_name)
    if User.find_by_email(email) is not None:
        raise click.BadParameter(f"{email} already has an account", param_hint="--email")
    password = _read_password(password_stdin)
    try:
        password_hash = hash_password(password)
    except PasswordPolicyError as error:
        raise click.BadParameter(str(error), param_hint="password") from None
    user = User(
        email=email,
        email_verified=email_verified,
        display_name=display_name,
        password_hash=password_hash,
    )
    db.session.add(user)
    db.session.flush()
    if platform_role:
        db.session.add(PlatformRole(user_id=user.id, role=platform_role))
    audit.record("user.created", target_type="user", target_id=str(user.id), method="cli")
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise click.BadParameter(f"{email} already has an account", param_hint="--email") from None
    click.echo(f"created user {user.id} <{email}>")


def _checked_email(raw: str) -> str:
    email = normalize_email(raw)
    local, _, domain = email.partition("@")
    if not local or "." not in domain or len(email) > 255 or any(c.isspace() for c in email):
        raise click.BadParameter(f"{raw!r} is not an email address", param_hint="--email")
    return email


def _checked_display_name(raw: str) -> str:
    name = raw.strip()
    if not name or len(name) > 100 or any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise click.BadParameter("must be 1 to 100 printable characters", param_hint="--name")
    return name


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@users_cli.command("disable")
@click.argument("email")
def users_disable(email: str) -> None:
    """Stop a person signing in, by any method, and end everything they are signed in to."""
    user = _find_user(email)
    signed_out = accounts.disable(user)
    db.session.commit()
    click.echo(f"disabled <{user.email}>: {_ended(signed_out)}")


@users_cli.command("enable")
@click.argument("email")
def users_enable(email: str) -> None:
    """Let a disabled person sign in again."""
    user = _find_user(email)
    accounts.enable(user)
    db.session.commit()
    click.echo(f"enabled <{user.email}>")


@users_cli.command("sign-out")
@click.argument("email")
def users_sign_out(email: str) -> None:
    """End every session of a person and revoke every token they hold (a lost laptop)."""
    user = _find_user(email)
    signed_out = accounts.sign_out_everywhere(user)
    db.session.commit()
    click.echo(f"signed out <{user.email}>: {_ended(signed_out)}")


@users_cli.command("platform-role")
@click.argument("email")
@click.argument("role", type=click.Choice([*PLATFORM_ROLES, "none"]))
def users_platform_role(email: str, role: str) -> None:
    """Make a person an operator (root or admin: the /admin console), or none."""
    user = _find_user(email)
    try:
        changed = accounts.set_platform_role(user, None if role == "none" else role)
    except accounts.LastRoot as error:
        raise click.ClickException(str(error)) from None
    db.session.commit()
    click.echo(f"<{user.email}>: platform role {role}" + ("" if changed else " (unchanged)"))


def _find_user(email: str) -> User:
    user = User.find_by_email(email)
    if user is None:
        raise click.BadParameter(f"no person with the email {email!r}", param_hint="EMAIL")
    return user


def _ended(signed_out: accounts.SignedOut) -> str:
    return f"{signed_out.sessions} session(s) ended, {signed_out.grants} grant(s) revoked"
