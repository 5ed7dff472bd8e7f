"""The ceiling: a bare Flask route answering JSON, served with the same gunicorn settings
as authserver in the same run. Every scenario is reported as a ratio to it."""

from __future__ import annotations

from flask import Flask

app = Flask(__name__)


@app.get("/hello")
def hello() -> dict[str, str]:
    return {"hello": "world"}
