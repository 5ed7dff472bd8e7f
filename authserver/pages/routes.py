"""init_pages(app): Flask-Babel, what every template knows (brand, app, language), /brand.css."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, Flask, Response
from flask_babel import Babel, format_date, format_datetime, format_timedelta, get_locale, gettext

from authserver.clock import utcnow
from authserver.config import PROJECT_ROOT, current_settings
from authserver.pages.agents import describe_agent
from authserver.pages.asking import asking_client, asking_request
from authserver.pages.language import DEFAULT_LOCALE, choose_locale

TRANSLATIONS_DIR = PROJECT_ROOT / "translations"

pages = Blueprint("pages", __name__)


def init_pages(app: Flask) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LOCALE)
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS_DIR))
    Babel(app, locale_selector=choose_locale)
    app.context_processor(_page_context)
    app.add_template_filter(relative_time, "ago")
    app.add_template_filter(agent_in_words, "agent")
    app.add_template_filter(format_date, "date")
    app.add_template_filter(format_datetime, "datetime")
    app.register_blueprint(pages)


def _page_context() -> dict[str, Any]:
    return {
        "brand": current_settings().brand,
        "asking_client": asking_client,
        "asking_request": asking_request,
        "page_locale": lambda: str(get_locale() or DEFAULT_LOCALE).replace("_", "-"),
    }


@pages.get("/brand.css")
def brand_stylesheet() -> Response:
    """The accent colour as a stylesheet of ours: the CSP allows no inline style
    (authserver/security.py), and the colour was checked for contrast at start-up."""
    accent = current_settings().brand.accent
    return Response(
        f":root {{ --accent: {accent}; }}\n",
        mimetype="text/css",
        headers={"Cache-Control": "public, max-age=300"},
    )


def relative_time(moment: datetime) -> str:
    """ "3 hours ago", "in 2 days", in the page's language (CLDR through Babel)."""
    return format_timedelta(moment - utcnow(), add_direction=True, threshold=0.9)


def agent_in_words(user_agent: str | None) -> str:
    browser, system = describe_agent(user_agent)
    if browser and system:
        return gettext("%(browser)s on %(system)s", browser=browser, system=system)
    return browser or system or gettext("An unknown browser")
