"""The servers a benchmark run starts: wait until one answers, and stop it by its PID."""

from __future__ import annotations

import subprocess
import time
import urllib.request
from pathlib import Path


def wait_until_answers(
    url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 30
) -> None:
    """Poll `url` until it answers; fail at once, with the log's end, if the process exits."""
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: exited with {process.returncode}: {_tail(log)}")
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"{url} did not answer in {timeout:.0f} s: {_tail(log)}"
                ) from None
            time.sleep(0.2)


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to this one PID, then SIGKILL if it is still there after 30 s."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def _tail(log: Path, lines: int = 5) -> str:
    text = log.read_text(errors="replace") if log.exists() else ""
    return " | ".join(text.strip().splitlines()[-lines:]) or "(no output)"
