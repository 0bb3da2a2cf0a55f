"""``qa serve``: the same Textual app in a browser, through textual-serve.

Each browser tab that opens the printed link gets its own ``qa tui`` process, run by
Textual's web driver: the very same app, screens and workers, drawn in the page by
xterm.js. Nothing else is shared between tabs but the index on disk.

Who can reach it: only this machine unless ``--public`` is given (``--host`` anything but
a loopback address is refused without it), because whoever reaches the port can read the
whole index and ask it anything; ``--public`` says so on stderr.

Stopping: Ctrl-C (SIGINT) or SIGTERM asks every app process to quit and kills one that
has not ended within ``STOP_SECONDS`` (a model still loading), so no app is left running
with the index open. Each app runs under ``exec``, so the process textual-serve holds is
the app itself, not a shell around it.

stdout carries only the link: textual-serve's banner is not printed, and what it writes
to stdout (an app's stderr, on exit) is sent to stderr.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import shlex
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from tui.cli import app_options

if TYPE_CHECKING:
    from tui.web import PilcrowServer

LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})
WILDCARDS = frozenset({"0.0.0.0", "::", ""})
STOP_SECONDS = 5.0  # how long an app is given to quit before it is killed
PUBLIC_WARNING = (
    "warning: serving on {host}:{port}, not only this machine: anyone who can reach "
    "that port can read the whole index and ask it anything (no login, no encryption)"
)


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine only (127.0.0.0/8, ::1, localhost)."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def app_command(index_dir: Path | None, corpus_dir: Path | None, python: str = "") -> str:
    """The shell command textual-serve runs for each tab: ``exec python -m qa tui`` with
    absolute folders, so the app is the process it holds and finds the same index."""
    args = [python or sys.executable, "-m", "qa", "tui"]
    if index_dir is not None:
        args += ["--index", str(index_dir.expanduser().resolve())]
    if corpus_dir is not None:
        args += ["--corpus", str(corpus_dir.expanduser().resolve())]
    return "exec " + shlex.join(args)


def page_url(host: str, port: int) -> str:
    """The link to open: the host as given (a wildcard becomes this machine's name, which
    a colleague can reach), IPv6 addresses in brackets."""
    shown = socket.gethostname() if host in WILDCARDS else host
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}/"


def make_server(command: str, host: str, port: int) -> PilcrowServer:
    """The server, imported here so ``qa --help`` never loads aiohttp."""
    from tui.web import PilcrowServer

    return PilcrowServer(command, host, port, page_url(host, port))


def run_server(server: PilcrowServer, on_listening: Callable[[str], None]) -> None:
    """Serve until SIGINT or SIGTERM; textual-serve's stdout writes go to stderr."""
    with contextlib.redirect_stdout(sys.stderr):
        asyncio.run(server.run(on_listening))


@click.command()
@app_options
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@click.option(
    "--public",
    is_flag=True,
    help="Allow a --host other machines can reach: they can then read the whole index.",
)
def serve(
    index_dir: Path | None, corpus_dir: Path | None, host: str, port: int, public: bool
) -> None:
    """Serve the terminal UI to a web browser: open the link it prints.

    Every tab runs its own copy of the app (`qa tui`) on this machine. Only this
    machine can connect unless --public is given with a --host such as 0.0.0.0: then
    anyone who can reach the port can read the index. Ctrl-C stops the server and
    every app.
    """
    if not is_loopback(host) and not public:
        raise click.UsageError(
            f"--host {host} lets other machines read the index: add --public to mean it"
        )
    if public and not is_loopback(host):
        click.echo(PUBLIC_WARNING.format(host=host, port=port), err=True)
    server = make_server(app_command(index_dir, corpus_dir), host, port)
    stdout = sys.stdout  # the link's; the server's own writes go to stderr

    def listening(url: str) -> None:
        stdout.write(url + "\n")
        stdout.flush()
        click.echo("Open the link in a browser; Ctrl-C stops the server.", err=True)

    try:
        run_server(server, listening)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise click.ClickException(
            f"cannot listen on {host}:{port}: {reason} (choose another --port)"
        ) from None
