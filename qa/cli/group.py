"""The ``qa`` group itself: logging set-up, plugin commands, and QAError → exit code.

stdout carries only data (answers, JSON); progress, warnings and errors go to stderr.
Every ``QAError`` becomes one line on stderr and its exit code. A reader that stops
reading (``qa ask ... | head -1``) ends any command cleanly, with exit 0, as it does
``git log``.
"""

from __future__ import annotations

import io
import logging
import os
import select
import sys
from collections.abc import Callable
from functools import cache, wraps
from importlib.metadata import entry_points
from typing import Any, ParamSpec, TypeVar

import click

from qa import __version__
from qa.errors import QAError

P = ParamSpec("P")
R = TypeVar("R")
PLUGIN_GROUP = "qa.commands"


class QAGroup(click.Group):
    """Built-in commands plus ones other packages register (the TUI adds ``qa tui``).

    Entry points are only consulted for names that are not built in, so the core never
    imports the UI and ``qa ask`` pays nothing for plugin discovery.
    """

    def _plugins(self) -> dict[str, Any]:
        return {ep.name: ep for ep in entry_points(group=PLUGIN_GROUP)}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self._plugins()})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is None and (ep := self._plugins().get(cmd_name)):
            loaded = ep.load()
            return loaded if isinstance(loaded, click.Command) else None
        return command

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; stdout closed by its reader ends it with exit 0, silently.

        Output still buffered is flushed here, so a closed pipe is met here and not at
        interpreter exit ("Exception ignored ... BrokenPipeError"); an exit under way
        (``sys.exit(3)``, an error) keeps its code. Rich meets a closed pipe with
        ``SystemExit(1)`` raised while handling it (``Console.on_broken_pipe``): the same
        event when its console writes stdout, so the same exit. A pipe that broke
        elsewhere (stderr's reader gone, a pipe of the command's own) is an error.
        """
        try:
            result = super().invoke(ctx)
        except BrokenPipeError as exc:
            if not _stdout_broken():
                raise user_error(QAError(f"broken pipe, not stdout: {exc}")) from exc
            _stdout_to_devnull()
            ctx.exit(0)
        except SystemExit as exc:
            if isinstance(exc.__context__, BrokenPipeError) and _rich_wrote_stdout(exc.__context__):
                _stdout_to_devnull()
                ctx.exit(0)
            _flush_stdout()
            raise
        except BaseException:
            _flush_stdout()
            raise
        _flush_stdout()
        return result


def _stdout_broken() -> bool:
    """Whether stdout's reader has gone: what is still buffered cannot be flushed, or
    its descriptor polls as a pipe (or socket) with no one at the other end. A flush
    alone cannot tell: the write that failed has already dropped its bytes."""
    try:
        sys.stdout.flush()
        fd = sys.stdout.fileno()
    except BrokenPipeError:
        return True
    except (OSError, ValueError):  # io.UnsupportedOperation too: not a real file
        return False
    if not hasattr(select, "poll"):  # no way to ask (Windows): as before, assume stdout
        return True
    poller = select.poll()
    poller.register(fd, select.POLLOUT)
    return any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0))


def _rich_wrote_stdout(error: BrokenPipeError) -> bool:
    """Whether the Rich console that met ``error`` writes stdout: Rich has already made
    stdout devnull by then (whichever console broke), so only the console can tell."""
    from rich.console import Console

    tb = error.__traceback__
    while tb is not None:
        owner = tb.tb_frame.f_locals.get("self")
        if isinstance(owner, Console):
            return owner.file is sys.stdout
        tb = tb.tb_next
    return False


def _flush_stdout() -> None:
    """Flush stdout; if its reader has gone, point it at devnull instead."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _stdout_to_devnull()


def _stdout_to_devnull() -> None:
    """Python's advice for a closed pipe (``signal`` docs, "Note on SIGPIPE"): stdout's
    descriptor made devnull, so the flush at exit has nowhere to fail."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, sys.stdout.fileno())
        finally:
            os.close(devnull)
    except (OSError, ValueError, io.UnsupportedOperation):  # not a real file (a test runner)
        pass


class UserError(click.ClickException):
    """A QAError on its way out as one line on stderr; ``user_error`` gives its exit code."""

    def show(self, file: Any = None) -> None:
        click.echo(f"Error: {self.format_message()}", err=True)


@cache
def _error_class(code: int) -> type[UserError]:
    """A UserError whose exit code is ``code`` (click declares ``exit_code`` on the class)."""
    return type(f"UserError{code}", (UserError,), {"exit_code": code})


def user_error(error: QAError) -> UserError:
    """The click exception that prints ``error`` and exits with its code."""
    return _error_class(int(error.exit_code))(str(error))


def user_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn ``QAError`` into a one-line message and its exit code."""

    @wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except QAError as exc:
            raise user_error(exc) from exc
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            sys.exit(130)

    return wrapper


@click.group(cls=QAGroup)
@click.version_option(__version__, prog_name="qa")
@click.option("-v", "--verbose", count=True, help="More logging on stderr (-vv for debug).")
def cli(verbose: int) -> None:
    """Pilcrow: ask questions of a document archive, get paragraphs with exact citations.

    \b
    Quick start:
      qa index                 # index ./corpus into ./index
      qa ask "How much did Kazakhstan seek in damages?"
      qa show 07MOSCOW5292 --paragraph 3
    """
    level = logging.WARNING - 10 * verbose
    logging.basicConfig(
        level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    if verbose < 2:
        for noisy in ("sentence_transformers", "transformers", "httpx", "huggingface_hub"):
            logging.getLogger(noisy).setLevel(logging.ERROR)
