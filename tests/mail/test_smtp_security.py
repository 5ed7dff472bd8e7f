"""SMTP over TLS for real: STARTTLS and implicit TLS with AUTH against a loopback relay
whose certificate is checked; an untrusted certificate or wrong credentials never send."""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from authserver.config import Smtp
from authserver.mail.transport import SmtpTransport, build_message
from authserver.outbox.worker import PermanentFailure
from tests.certificates import loopback_certificate
from tests.e2e.processes import free_port
from tests.smtp import Mailbox

USER, PASSWORD = "authserver", "relay-password-1"
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
PAYLOAD = {"to": "ada@example.com", "subject": "Hi", "text": "plain", "html": "<p>html</p>"}


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The relay's certificate and key; the certificate is also the CA file that trusts it."""
    return loopback_certificate(tmp_path_factory.mktemp("tls"))


def _authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
        USER.encode(),
        PASSWORD.encode(),
    )
    refused = "535 5.7.8 Authentication credentials invalid"  # aiosmtpd says nothing by default
    return (
        AuthResult(success=True)
        if ok
        else AuthResult(success=False, handled=False, message=refused)
    )


@pytest.fixture(params=["starttls", "tls"])
def relay(
    request: pytest.FixtureRequest, certificate: tuple[Path, Path]
) -> Iterator[tuple[str, int, Mailbox]]:
    """A relay that takes mail only over TLS and only from an authenticated sender."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    box, port = Mailbox(), free_port()
    options: dict[str, Any] = {
        "authenticator": _authenticate,
        "auth_required": True,
    }
    if request.param == "starttls":
        options.update(tls_context=context, require_starttls=True)
    else:
        # Implicit TLS from the first byte; aiosmtpd only counts STARTTLS as TLS for AUTH.
        options.update(ssl_context=context, auth_require_tls=False)
    controller = Controller(box, hostname="127.0.0.1", port=port, **options)
    controller.start()
    yield request.param, port, box
    controller.stop()


def transport(security: str, port: int, ca_file: Path | None, password: str = PASSWORD):  # noqa: ANN201
    return SmtpTransport(Smtp("127.0.0.1", port, security, USER, password, ca_file))


def message() -> EmailMessage:
    return build_message(PAYLOAD, "auth@example.com")


def test_mail_goes_over_tls_with_auth_to_a_trusted_relay(
    relay: tuple[str, int, Mailbox], certificate: tuple[Path, Path]
) -> None:
    security, port, box = relay
    transport(security, port, certificate[0]).send(message())
    assert box.only("ada@example.com")["Subject"] == "Hi"


def test_an_untrusted_certificate_sends_nothing(relay: tuple[str, int, Mailbox]) -> None:
    security, port, box = relay
    with pytest.raises(ssl.SSLCertVerificationError):
        transport(security, port, None).send(message())  # the system store lacks our CA
    assert box.messages == []


def test_wrong_credentials_send_nothing_and_are_retried(
    relay: tuple[str, int, Mailbox], certificate: tuple[Path, Path]
) -> None:
    security, port, box = relay
    with pytest.raises(smtplib.SMTPAuthenticationError) as raised:
        transport(security, port, certificate[0], password="wrong").send(message())
    assert not isinstance(raised.value, PermanentFailure)  # fixed config, then it goes
    assert box.messages == []
