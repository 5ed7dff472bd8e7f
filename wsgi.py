"""What gunicorn serves: `gunicorn wsgi:app`."""

from __future__ import annotations

import sys

from authserver import create_app
from authserver.config import ConfigError

try:
    app = create_app(serving=True)
except ConfigError as error:
    # One line naming the setting, no traceback, a non-zero exit (gunicorn stops booting).
    print(f"authserver: {error}", file=sys.stderr)
    raise SystemExit(2) from None
