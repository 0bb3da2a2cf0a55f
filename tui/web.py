"""textual-serve's ``Server``, kept to this process's needs (``qa serve``, ``tui/serve.py``).

Three changes to the library's behaviour (textual-serve 1.1.3, pinned): no banner or log
set-up (the link is printed once the port is bound, so a port in use is an error, not a
link to nothing); every tab's session is kept, so stopping the server ends each app
(asked to quit, killed after ``STOP_SECONDS``: the library would leave an app that does
not quit running) and a tab that has gone quiet delays the exit by ``CLOSE_SECONDS`` at
most; and the server runs on an ``AppRunner`` this module starts and stops, on SIGINT or
SIGTERM.
Imported only by ``qa serve`` (aiohttp is not loaded for ``qa --help``).
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable

from aiohttp import web
from rich.console import Console
from textual_serve.app_service import AppService
from textual_serve.server import Server, to_int

from tui.serve import STOP_SECONDS

CLOSE_SECONDS = 2.0  # how long closing a tab's websocket waits for the browser's reply
log = logging.getLogger(__name__)


class PilcrowServer(Server):
    """One ``qa tui`` process per browser tab, all of them ended when the server stops."""

    def __init__(self, command: str, host: str, port: int, url: str) -> None:
        super().__init__(command, host=host, port=port, title="Pilcrow", public_url=url)
        self.public_url = url.rstrip("/")  # textual-serve appends its own paths
        self.console = Console(stderr=True)
        self.sessions: set[asyncio.Task[object]] = set()  # one per connected tab

    async def on_startup(self, app: web.Application) -> None:
        """No banner: ``run`` prints the link once the port is bound."""

    async def run(self, on_listening: Callable[[str], None]) -> None:
        """Listen, call ``on_listening`` with the link, serve until SIGINT or SIGTERM,
        then end every tab's session (and so its app) and close. OSError when the address
        cannot be bound."""
        app = await self._make_app()
        runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=STOP_SECONDS)
        await runner.setup()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        try:
            site = web.TCPSite(runner, self.host, self.port)
            await site.start()
            on_listening(self.public_url + "/")
            await stop.wait()
            sessions = list(self.sessions)
            for session in sessions:
                session.cancel()  # each ends its app on the way out (handle_websocket)
            await asyncio.gather(*sessions, return_exceptions=True)
        finally:
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(signum)
            await runner.cleanup()

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        """A tab connected: start its app and relay bytes both ways until either side
        closes or the server stops; then end the app, whatever happened (the library's
        handler, with the session kept in ``sessions``)."""
        session = asyncio.current_task()
        assert session is not None
        self.sessions.add(session)
        websocket = web.WebSocketResponse(heartbeat=15, timeout=CLOSE_SECONDS)
        width = to_int(request.query.get("width", "80"), 80)
        height = to_int(request.query.get("height", "24"), 24)
        service = AppService(
            self.command,
            write_bytes=websocket.send_bytes,
            write_str=websocket.send_str,
            close=lambda: _close(websocket),
            download_manager=self.download_manager,
            debug=self.debug,
        )
        try:
            await websocket.prepare(request)
            await service.start(width, height)  # cancelled mid-start: asyncio kills it
            await self._process_messages(websocket, service)
        except asyncio.CancelledError:
            pass  # the server is stopping: the app is ended below all the same
        except Exception:
            log.exception("a browser session failed")
        finally:
            await end_app(service)
            self.sessions.discard(session)
            await websocket.close()
        return websocket


async def _close(websocket: web.WebSocketResponse) -> None:
    """Close the tab's websocket (the app exited); the shape ``AppService`` expects."""
    await websocket.close()


async def end_app(service: AppService) -> None:
    """Ask the app to quit and wait for it; kill it if it has not ended within
    ``STOP_SECONDS``. Nothing to do for an app that never started."""
    process = service._process  # the library keeps no public handle on it
    try:
        await asyncio.wait_for(asyncio.shield(service.stop()), STOP_SECONDS)
        if process is not None:
            await asyncio.wait_for(process.wait(), STOP_SECONDS)
    except TimeoutError:
        if process is not None and process.returncode is None:
            log.warning("an app did not quit within %g s: killed", STOP_SECONDS)
            process.kill()
            await process.wait()
