"""`authserver users`: create people with local passwords; disable, enable, sign out;
platform roles."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from authserver.extensions import db
from authserver.identity import accounts
from authserver.mfa.reset import reset_factors
from authserver.models import User
from authserver.models.users import PLATFORM_ROLES

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
    try:
        accounts.checked_email(email)
        accounts.checked_display_name(display_name)
        user = accounts.create_local(
            email,
            display_name,
            _read_password(password_stdin),
            email_verified=email_verified,
            platform_role=platform_role,
        )
    except accounts.AccountInvalid as error:
        db.session.rollback()
        hint = {"email": "--email", "name": "--name"}.get(error.field, error.field)
        raise click.BadParameter(str(error), param_hint=hint) from None
    db.session.commit()
    click.echo(f"created user {user.id} <{user.email}>")


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


@users_cli.command("reset-mfa")
@click.argument("email")
def users_reset_mfa(email: str) -> None:
    """Remove a person's second factors and recovery codes (a lost phone and lost codes)."""
    user = _find_user(email)
    removed = reset_factors(user)
    db.session.commit()
    click.echo(
        f"reset second factors of <{user.email}>: {removed.totp} authenticator app(s), "
        f"{removed.webauthn} security key(s) or passkey(s), "
        f"{removed.recovery_codes} recovery code(s)"
    )


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
