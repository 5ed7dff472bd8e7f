"""What each flow mails: queue(template, to, **context) renders both parts into the outbox.

Other packages call only queue(). The message is rendered now, in the caller's request, and
written to the outbox in the caller's transaction: it is sent only if the caller commits.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from flask import render_template

from authserver.config import current_settings
from authserver.models import OutboxMessage
from authserver.outbox import store

log = logging.getLogger("authserver.mail")
KIND = "mail"

# Each message says why the person got it; the body says what to do if it was not them.
SUBJECTS = {
    "verify_email": "Confirm your email address for {site}",
    "email_change": "Confirm your new email address for {site}",
    "email_changed": "Your email address for {site} was changed",
    "password_reset": "Reset your password for {site}",
    "password_changed": "Your password for {site} was changed",
    "signup_exists": "Someone tried to sign up for {site} with your address",
    "invitation": "{inviter} invited you to join {organization} on {site}",
    "recovery_code_used": "A recovery code was used to sign in to {site}",
}


def queue(template: str, to: str, **context: Any) -> OutboxMessage | None:
    """Render templates/mail/<template>.txt and .html and add the message to the outbox.
    Production without SMTP sends nothing (settings.mail_enabled); that is logged."""
    settings = current_settings()
    if not settings.mail_enabled:
        log.warning("mail %r to a person not queued: AUTHSERVER_SMTP_HOST is unset", template)
        return None
    site = urlsplit(settings.issuer).netloc
    values = {
        "product": settings.brand.name,
        "brand": settings.brand,
        "site": site,
        "issuer": settings.issuer,
        **context,
    }
    # A header holds one line: names in a subject lose their line breaks and controls.
    subject = " ".join(SUBJECTS[template].format(**values).split())
    values["subject"] = subject
    payload = {
        "to": to,
        "subject": subject,
        "template": template,
        "text": render_template(f"mail/{template}.txt", **values),
        "html": render_template(f"mail/{template}.html", **values),
    }
    return store.enqueue(KIND, payload)
