"""A warm `authserver` command for CLI tests.

Each command of a test is still a process of its own, with the environment, working
directory, standard streams and exit status the test gives it, as a shell would run it. But
starting Python and importing the CLI takes about 1.5 s of the 2 s a command takes here,
and the CLI tests run some 400 commands: so one process per test worker imports the CLI
once (`serve`), and forks a child for each command, which runs `authserver.cli.main` as
`python -m authserver` would. A test that needs the interpreter's own start (`python -m
authserver` itself, or an argument's raw bytes decoded by it) asks for a new process
instead (`fresh=True`).

The forking server imports authserver's modules (none reads the environment at import
time) and starts no thread, so each child starts as a new process would, but for the
imports.
"""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import select
import signal
import socket
import struct
import subprocess
import sys
import traceback
from pathlib import Path

_LENGTH = struct.Struct("!I")
_STREAMS = ("stdin", "stdout", "stderr")


def _send(sock: socket.socket, message: object) -> None:
    data = json.dumps(message).encode()
    sock.sendall(_LENGTH.pack(len(data)) + data)


def _receive(sock: socket.socket) -> object:
    head = _read_exactly(sock, _LENGTH.size)
    return json.loads(_read_exactly(sock, _LENGTH.unpack(head)[0]))


def _read_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("the warm authserver went away")
        data += chunk
    return data


# ---- the server: one per test worker ---------------------------------------------------------


def serve(path: str) -> None:
    _import_authserver()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(16)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the supervisors reap themselves
    print("ready", flush=True)
    while True:
        readable, _, _ = select.select([listener, sys.stdin], [], [])
        if sys.stdin in readable:
            return  # the test worker closed our stdin, or died: so do we
        connection, _ = listener.accept()
        if os.fork() == 0:
            listener.close()
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            _supervise(connection)  # never returns
        connection.close()


def _import_authserver() -> None:
    """Every module of the package (as create_app imports its blueprints' on each command),
    but `python -m authserver`'s, which would run a command."""
    import authserver

    for module in pkgutil.walk_packages(authserver.__path__, "authserver."):
        if module.name != "authserver.__main__":
            importlib.import_module(module.name)


def _supervise(connection: socket.socket) -> None:
    """Fork the command, tell the caller its pid, then its exit status."""
    command = _receive(connection)
    assert isinstance(command, dict)
    pid = os.fork()
    if pid == 0:
        connection.close()
        _run(command)  # never returns
    _send(connection, {"pid": pid})
    _, status = os.waitpid(pid, 0)
    _send(connection, {"returncode": os.waitstatus_to_exitcode(status)})
    os._exit(0)


def _run(command: dict) -> None:
    for fd, (name, flags) in enumerate(
        [("stdin", os.O_RDONLY), ("stdout", os.O_WRONLY), ("stderr", os.O_WRONLY)]
    ):
        os.dup2(os.open(command[name], flags), fd)
    os.environ.clear()
    os.environ.update(command["env"])
    os.chdir(command["cwd"])
    sys.argv = ["authserver", *command["args"]]
    code = 0
    try:
        from authserver.cli import main

        main()
    except SystemExit as leaving:
        code = _exit_code(leaving.code)
    except BaseException:  # what Python does with an uncaught exception
        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _exit_code(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


# ---- the caller ------------------------------------------------------------------------------


class WarmAuthserver:
    """The forking server, started by a test worker and stopped by it."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = str(directory / "warm.sock")
        self.process = subprocess.Popen(
            [sys.executable, "-c", f"from tests.cli.warm import serve; serve({self.path!r})"],
            cwd=Path(__file__).resolve().parents[2],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        if self.process.stdout.readline().strip() != "ready":
            raise RuntimeError("the warm authserver did not start")
        self.count = 0

    def run(
        self, args: list[str], env: dict[str, str], cwd: Path, stdin: str | None, timeout: float
    ) -> subprocess.CompletedProcess[str]:
        self.count += 1
        streams = {name: self.directory / f"{self.count}.{name}" for name in _STREAMS}
        streams["stdin"].write_text(stdin or "")
        for name in ("stdout", "stderr"):
            streams[name].touch()
        command = {name: str(path) for name, path in streams.items()}
        command.update(args=args, env=env, cwd=str(cwd))
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(self.path)
            _send(sock, command)
            pid = _receive(sock)["pid"]  # type: ignore[index]
            try:
                returncode = _receive(sock)["returncode"]  # type: ignore[index]
            except TimeoutError:
                os.kill(pid, signal.SIGKILL)
                raise subprocess.TimeoutExpired(["authserver", *args], timeout) from None
        output = {name: streams[name].read_text() for name in ("stdout", "stderr")}
        for path in streams.values():
            path.unlink()
        return subprocess.CompletedProcess(["authserver", *args], returncode, **output)

    def stop(self) -> None:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.close()
        self.process.wait(timeout=10)
        self.process.stdout.close()
