"""The mail settings: SMTP relay, sender, sign-up; one clear line per bad value."""

from __future__ import annotations

from pathlib import Path

import pytest

from authserver.config import ConfigError, Settings, Smtp
from tests.unit.test_settings import PRODUCTION_OK


@pytest.fixture
def base_env(tmp_path: Path) -> dict[str, str]:
    return {"AUTHSERVER_INSTANCE_DIR": str(tmp_path / "instance")}


def test_without_smtp_development_mails_to_the_log(base_env: dict[str, str]) -> None:
    settings = Settings.from_env(base_env)
    assert settings.smtp is None and settings.mail_enabled
    assert settings.mail_from == "authserver@127.0.0.1"
    assert settings.signup is False


@pytest.mark.parametrize(("security", "port"), [("starttls", 587), ("tls", 465), ("none", 25)])
def test_the_port_follows_the_security_mode(
    base_env: dict[str, str], security: str, port: int
) -> None:
    env = {**base_env, "AUTHSERVER_SMTP_HOST": "smtp.example.com",
           "AUTHSERVER_SMTP_SECURITY": security}  # fmt: skip
    assert Settings.from_env(env).smtp == Smtp("smtp.example.com", port, security)


def test_a_full_smtp_configuration_is_read_and_its_password_hidden(
    base_env: dict[str, str],
) -> None:
    env = {
        **base_env,
        "AUTHSERVER_SMTP_HOST": "smtp.example.com",
        "AUTHSERVER_SMTP_PORT": "2525",
        "AUTHSERVER_SMTP_USER": "auth",
        "AUTHSERVER_SMTP_PASSWORD": "hunter2hunter2",
        "AUTHSERVER_MAIL_FROM": "no-reply@example.com",
    }
    settings = Settings.from_env(env)
    assert settings.smtp == Smtp("smtp.example.com", 2525, "starttls", "auth", "hunter2hunter2")
    assert settings.mail_from == "no-reply@example.com"
    assert "hunter2" not in str(settings.as_dict())


@pytest.mark.parametrize(
    ("value", "signup", "domains"),
    [("off", False, ()), ("on", True, ()), ("Corp.example, lab.example", True,
                                            ("corp.example", "lab.example"))],
)  # fmt: skip
def test_signup_is_off_on_or_some_domains(
    base_env: dict[str, str], value: str, signup: bool, domains: tuple
) -> None:
    settings = Settings.from_env({**base_env, "AUTHSERVER_SIGNUP": value})
    assert (settings.signup, settings.signup_domains) == (signup, domains)


BAD = [
    ({"AUTHSERVER_SMTP_HOST": "smtp example"}, "AUTHSERVER_SMTP_HOST", "host name"),
    ({"AUTHSERVER_SMTP_HOST": "h", "AUTHSERVER_SMTP_PORT": "0"}, "AUTHSERVER_SMTP_PORT", "port"),
    ({"AUTHSERVER_SMTP_HOST": "h", "AUTHSERVER_SMTP_PORT": "٢٥"}, "AUTHSERVER_SMTP_PORT", "port"),
    ({"AUTHSERVER_SMTP_HOST": "h", "AUTHSERVER_SMTP_PORT": "65536"}, "AUTHSERVER_SMTP_PORT",
     "1 to"),
    ({"AUTHSERVER_SMTP_SECURITY": "ssl"}, "AUTHSERVER_SMTP_SECURITY", "one of"),
    ({"AUTHSERVER_SMTP_USER": "auth"}, "AUTHSERVER_SMTP_USER", "needs SMTP_HOST"),
    ({"AUTHSERVER_SMTP_HOST": "h", "AUTHSERVER_SMTP_USER": "u"}, "AUTHSERVER_SMTP_PASSWORD",
     "go together"),
    ({"AUTHSERVER_SMTP_HOST": "h", "AUTHSERVER_SMTP_SECURITY": "none",
      "AUTHSERVER_SMTP_USER": "u", "AUTHSERVER_SMTP_PASSWORD": "p"},
     "AUTHSERVER_SMTP_SECURITY", "starttls or tls"),
    ({"AUTHSERVER_MAIL_FROM": "Auth <auth@example.com>"}, "AUTHSERVER_MAIL_FROM", "bare address"),
    ({"AUTHSERVER_MAIL_FROM": "auth@exa\nmple.com"}, "AUTHSERVER_MAIL_FROM", "bare address"),
    ({"AUTHSERVER_SMTP_HOST": "h", "AUTHSERVER_SMTP_CA_FILE": "/nonexistent/ca.pem"},
     "AUTHSERVER_SMTP_CA_FILE", "readable file"),
    ({"AUTHSERVER_SIGNUP": "maybe"}, "AUTHSERVER_SIGNUP", "not a domain"),
    ({"AUTHSERVER_PASSWORD_RESET_TTL": "2d"}, "AUTHSERVER_PASSWORD_RESET_TTL", "between"),
]  # fmt: skip


@pytest.mark.parametrize(("overrides", "setting", "words"), BAD)
def test_a_bad_mail_setting_names_itself_in_one_line(
    base_env: dict[str, str], overrides: dict[str, str], setting: str, words: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        Settings.from_env({**base_env, **overrides})
    assert str(raised.value).startswith(f"{setting}: ") and words in str(raised.value)
    assert "\n" not in str(raised.value)


def test_production_refuses_sign_up_without_smtp() -> None:
    with pytest.raises(ConfigError) as raised:
        Settings.from_env({**PRODUCTION_OK, "AUTHSERVER_SIGNUP": "on"})
    assert str(raised.value).startswith("AUTHSERVER_SMTP_HOST: ")


def test_production_without_smtp_hides_the_flows_that_need_mail() -> None:
    assert Settings.from_env(PRODUCTION_OK).mail_enabled is False
    with_smtp = {**PRODUCTION_OK, "AUTHSERVER_SMTP_HOST": "smtp.example.com"}
    assert Settings.from_env(with_smtp).mail_enabled is True
