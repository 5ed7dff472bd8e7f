"""The kit's public API is typed (PEP 561): a strict type check of code using it passes."""

from __future__ import annotations

from pathlib import Path

import pytest


def test_code_using_the_public_api_passes_a_strict_type_check() -> None:
    mypy = pytest.importorskip("mypy.api")
    out, err, status = mypy.run(
        ["--strict", "--no-incremental", str(Path(__file__).parent / "typed" / "usage.py")]
    )
    assert status == 0, out + err
