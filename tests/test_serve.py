"""``qa serve``: the Textual app in a browser (issue 17).

The server runs as a real subprocess on a free port of 127.0.0.1 over the seed index.
Without a browser: it prints only the link, serves the page, starts one ``qa tui`` per
websocket, and SIGINT (alone, or to the whole process group as a terminal's Ctrl-C
sends it) leaves no app process behind. With headless Chromium (marked ``browser``;
skipped, saying why, when no chromium can be found or installed): the seed damages
question typed into the page is answered with ``07MOSCOW5292 ¶3`` on the screen.

Chromium is driven over the DevTools protocol with aiohttp (textual-serve's own
dependency): the page draws the terminal on a canvas, so the test reads xterm.js's
screen buffer, reached by exposing the page's terminal object as textual.js is loaded.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from click.testing import CliRunner

from qa.cli import cli
from tui.serve import app_command, is_loopback, page_url

DAMAGES = "How much did Kazakhstan seek in damages?"
CITATION = "07MOSCOW5292 ¶3"
START_SECONDS = 30  # for the server's link
ANSWER_SECONDS = 240  # torch and the model load in the app on a busy machine
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Served:
    """A ``qa serve`` subprocess; ``link`` is the one line it printed on stdout."""

    def __init__(self, index: Path, port: int, *, own_group: bool = False) -> None:
        command = [sys.executable, "-m", "qa", "serve", "--index", str(index)]
        self.process = subprocess.Popen(
            [*command, "--port", str(port)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=own_group,
        )
        self.rest = ""  # stdout after the link, once stopped
        self.link = self._first_line()

    def _first_line(self) -> str:
        stdout = self.process.stdout
        assert stdout is not None
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.append(stdout.readline()), daemon=True)
        reader.start()
        reader.join(START_SECONDS)
        if not lines or not lines[0]:
            pytest.fail(f"qa serve printed no link: {self.stop()}")
        return lines[0].strip()

    def app_pids(self) -> list[int]:
        """The live (not zombie) children of the server: its app processes."""
        return [pid for pid in _children(self.process.pid) if _alive(pid)]

    def stop(self, group: bool = False) -> str:
        """SIGINT (to the process group when ``group``), wait, return stderr."""
        if self.process.poll() is None:
            if group:
                os.killpg(self.process.pid, signal.SIGINT)
            else:
                self.process.send_signal(signal.SIGINT)
        try:
            self.rest, err = self.process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.rest, err = self.process.communicate()
        return err


def _children(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _wait_gone(pids: list[int], seconds: float = 10) -> list[int]:
    deadline = time.monotonic() + seconds
    while (left := [p for p in pids if _alive(p)]) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


async def _open_app(link: str) -> int:
    """Connect as a browser tab does; return the bytes the app drew in its first frames."""
    url = link.replace("http://", "ws://") + "ws?width=100&height=30"
    received = 0
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        deadline = time.monotonic() + START_SECONDS
        while received < 2000 and time.monotonic() < deadline:
            message = await ws.receive(timeout=START_SECONDS)
            if message.type == aiohttp.WSMsgType.BINARY:
                received += len(message.data)
    return received


# -- without a browser ------------------------------------------------------------------


def test_host_rules_and_app_command(tmp_path: Path) -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5")
    assert page_url("127.0.0.1", 8000) == "http://127.0.0.1:8000/"
    assert page_url("::1", 8001) == "http://[::1]:8001/"
    command = app_command(tmp_path / "my index", None, python="/usr/bin/python3")
    assert command == f"exec /usr/bin/python3 -m qa tui --index '{tmp_path}/my index'"


def test_serve_help_loads_no_web_server() -> None:
    code = (
        "import sys\nfrom click.testing import CliRunner\nfrom qa.cli import cli\n"
        "CliRunner().invoke(cli, ['serve', '--help'])\n"
        "print(sorted(m for m in ('aiohttp', 'textual_serve', 'torch') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_other_hosts_need_public(seed_index: Path) -> None:
    result = CliRunner().invoke(cli, ["serve", "--index", str(seed_index), "--host", "0.0.0.0"])
    assert result.exit_code == 2
    assert "--host 0.0.0.0 lets other machines read the index: add --public" in result.stderr
    assert result.stdout == ""


def test_public_host_is_warned_about_and_linked_by_name(
    seed_index: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--public --host 0.0.0.0``: the warning on stderr, the machine's name in the link
    (what a colleague's browser connects back to). Nothing is bound: the server is faked."""
    started: list[tuple[str, int]] = []

    def fake_run(server: Any, on_listening: Any) -> None:
        started.append((server.host, server.port))
        on_listening(server.public_url + "/")

    monkeypatch.setattr("tui.serve.run_server", fake_run)
    args = ["serve", "--index", str(seed_index), "--host", "0.0.0.0", "--public", "--port", "8123"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert started == [("0.0.0.0", 8123)]
    assert result.stdout == f"http://{socket.gethostname()}:8123/\n"
    assert "anyone who can reach that port can read the whole index" in result.stderr


def test_port_in_use_is_one_line(seed_index: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        args = ["serve", "--index", str(seed_index), "--port", str(port)]
        result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: cannot listen on 127.0.0.1:{port}: ")
    assert "(choose another --port)" in result.stderr and len(result.stderr.splitlines()) == 1


@pytest.mark.parametrize("group", [False, True], ids=["sigint-server", "ctrl-c-group"])
def test_serve_prints_the_link_and_ctrl_c_leaves_no_app(seed_index: Path, group: bool) -> None:
    port = free_port()
    served = Served(seed_index, port, own_group=group)
    try:
        assert served.link == f"http://127.0.0.1:{port}/"
        page = asyncio.run(_fetch(served.link))
        assert "textual.js" in page and f"ws://127.0.0.1:{port}/ws" in page
        assert asyncio.run(_open_app(served.link)) >= 2000  # the app drew its screen
        apps = served.app_pids()
        assert apps, "no app process was started for the websocket"
        cmdline = Path(f"/proc/{apps[0]}/cmdline").read_bytes().split(b"\0")
        assert cmdline[1:4] == [b"-m", b"qa", b"tui"]  # exec'd: no shell in between
        assert asyncio.run(_open_app(served.link)) >= 2000  # a second tab, its own app
    finally:
        err = served.stop(group=group)
    assert served.process.returncode == 0, err
    assert _wait_gone(apps) == [], f"app processes left running: {err}"
    assert served.rest == ""  # stdout: the link, nothing else


def test_an_app_that_will_not_quit_is_killed(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """An app deaf to the quit message (here ``sleep``: it never reads its stdin) is
    killed once ``STOP_SECONDS`` have passed, and the server still stops."""
    from tui.web import PilcrowServer

    monkeypatch.setattr("tui.web.STOP_SECONDS", 0.5)
    port = free_port()
    server = PilcrowServer("exec sleep 120", "127.0.0.1", port, f"http://127.0.0.1:{port}")
    links: list[str] = []

    # Children this process had before (multiprocessing's resource tracker, started by
    # an earlier test's parse pool, lives as long as the process): not the app's.
    before = set(_children(os.getpid()))

    async def scenario() -> list[int]:
        serving = asyncio.create_task(server.run(links.append))
        while not links:
            await asyncio.sleep(0.05)
        url = f"ws://127.0.0.1:{port}/ws"
        async with aiohttp.ClientSession() as session, session.ws_connect(url):
            while not (pids := [p for p in _children(os.getpid()) if p not in before]):
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.5)  # started: it is told to quit, and does not
            os.kill(os.getpid(), signal.SIGINT)  # taken by the server's handler
            await asyncio.wait_for(serving, 10)
        return pids

    started = time.monotonic()
    pids = asyncio.run(scenario())
    assert links == [f"http://127.0.0.1:{port}/"]
    assert _wait_gone(pids, 1) == [] and time.monotonic() - started < 8
    assert "an app did not quit within 0.5 s: killed" in caplog.text


async def _fetch(url: str) -> str:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        assert response.status == 200
        return await response.text()


# -- in headless Chromium ---------------------------------------------------------------


def _find_chromium() -> str | None:
    for name in BROWSERS:
        if found := shutil.which(name):
            return found
    return None


@pytest.fixture(scope="session")
def chromium() -> str:
    """A chromium binary: found, else installed with apt-get where that can be done (as
    root, Debian's ``chromium`` package), else the test is skipped saying why."""
    found = _find_chromium()
    why = "install Debian's `chromium` package to run this"
    if found is None and os.geteuid() == 0 and shutil.which("apt-get"):
        try:
            apt = subprocess.run(
                ["apt-get", "install", "-y", "-q", "chromium"],
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
            why = f"`apt-get install -y chromium` failed: {(apt.stderr or apt.stdout)[-300:]}"
        except subprocess.TimeoutExpired:
            why = "`apt-get install -y chromium` took over 10 minutes"
        found = _find_chromium()
    if found is None:
        pytest.skip(f"no chromium binary ({why.strip()})")
    return found


@pytest.fixture
def browser(chromium: str, tmp_path: Path) -> Iterator[str]:
    """Headless Chromium with the DevTools protocol on a free 127.0.0.1 port: its
    websocket URL."""
    process = subprocess.Popen(
        [
            chromium,
            "--headless=new",
            *(["--no-sandbox"] if os.geteuid() == 0 else []),
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--remote-debugging-address=127.0.0.1",
            "--remote-debugging-port=0",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--window-size=1400,1000",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield _devtools_url(process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _devtools_url(process: subprocess.Popen[str]) -> str:
    assert process.stderr is not None
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if match := re.search(r"DevTools listening on (ws://\S+)", line):
            return match.group(1)
        if not line and process.poll() is not None:
            break
    pytest.fail("chromium did not start its DevTools endpoint")


class DevTools:
    """The DevTools protocol over one websocket: ``call`` waits for its reply; events
    go to ``on_event``."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.next_id = 0
        self.pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.handlers: dict[str, Any] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        self.reader = asyncio.create_task(self._read())

    async def call(self, method: str, session: str | None = None, **params: Any) -> Any:
        self.next_id += 1
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.pending[self.next_id] = future
        message: dict[str, Any] = {"id": self.next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        await self.ws.send_str(json.dumps(message))
        reply = await asyncio.wait_for(future, 30)
        assert "error" not in reply, f"{method}: {reply['error']}"
        return reply.get("result", {})

    async def _read(self) -> None:
        async for message in self.ws:
            data = json.loads(message.data)
            if "id" in data and data["id"] in self.pending:
                self.pending.pop(data["id"]).set_result(data)
            elif handler := self.handlers.get(data.get("method", "")):
                task = asyncio.create_task(handler(data))
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)


# The page keeps its xterm.js terminal in a closure; expose it as it is created.
TERMINAL_NEW = re.compile(rb"this\.terminal=new (\w+)\.Terminal\(")
SCREEN_JS = """(() => { const t = window.__pilcrowTerminal; if (!t) return null;
  const b = t.buffer.active, rows = [];
  for (let i = 0; i < b.length; i++) rows.push(b.getLine(i).translateToString(true));
  return rows.join("\\n"); })()"""


async def _ask_in_browser(devtools_url: str, link: str, shot: Path) -> str:
    """Open ``link``, type the damages question, wait for the citation; return the
    screen's text, with a screenshot written to ``shot``."""
    async with aiohttp.ClientSession() as http, http.ws_connect(devtools_url, max_msg_size=0) as ws:
        cdp = DevTools(ws)
        target = (await cdp.call("Target.createTarget", url="about:blank"))["targetId"]
        attached = await cdp.call("Target.attachToTarget", targetId=target, flatten=True)
        page = attached["sessionId"]
        patched = asyncio.Event()

        async def paused(event: dict[str, Any]) -> None:
            request = event["params"]["requestId"]
            body = await cdp.call("Fetch.getResponseBody", page, requestId=request)
            code = (
                base64.b64decode(body["body"]) if body["base64Encoded"] else body["body"].encode()
            )
            code, count = TERMINAL_NEW.subn(
                rb"this.terminal=window.__pilcrowTerminal=new \1.Terminal(", code
            )
            assert count == 1, "textual.js no longer creates `this.terminal=new ….Terminal(`"
            await cdp.call(
                "Fetch.fulfillRequest",
                page,
                requestId=request,
                responseCode=200,
                responseHeaders=[{"name": "Content-Type", "value": "application/javascript"}],
                body=base64.b64encode(code).decode(),
            )
            patched.set()

        cdp.handlers["Fetch.requestPaused"] = paused
        pattern = {"urlPattern": "*/static/js/textual.js*", "requestStage": "Response"}
        await cdp.call("Fetch.enable", page, patterns=[pattern])
        await cdp.call("Page.enable", page)
        await cdp.call("Page.navigate", page, url=link)
        await asyncio.wait_for(patched.wait(), START_SECONDS)
        await _screen_until(cdp, page, _index_open, START_SECONDS)
        await _type_question(cdp, page)
        enter = {"key": "Enter", "code": "Enter", "windowsVirtualKeyCode": 13}
        await cdp.call("Input.dispatchKeyEvent", page, type="keyDown", text="\r", **enter)
        await cdp.call("Input.dispatchKeyEvent", page, type="keyUp", **enter)
        text = await _screen_until(cdp, page, _answered, ANSWER_SECONDS)
        picture = await cdp.call("Page.captureScreenshot", page, format="png")
        shot.write_bytes(base64.b64decode(picture["data"]))
        cdp.reader.cancel()
        return text


def _index_open(screen: str) -> bool:
    """The app is up and its index open: the question box shows and the status line no
    longer says ``opening index…`` (keys typed before that may be lost)."""
    return "Ask a question" in screen and "opening index" not in screen


def _answered(screen: str) -> bool:
    """The damages question was answered: the welcome text (which holds the example
    citation ``(07MOSCOW5292 ¶3)``) has given way to the transcript, which echoes the
    question and cites the paragraph."""
    welcome = "Ask a question about the documents" in screen
    return not welcome and DAMAGES in screen and CITATION in screen


async def _type_question(cdp: DevTools, page: str, tries: int = 3) -> None:
    """Type ``DAMAGES`` into the focused page until the question box shows it."""
    for _ in range(tries):
        await cdp.call("Runtime.evaluate", page, expression="window.__pilcrowTerminal.focus()")
        await cdp.call("Input.insertText", page, text=DAMAGES)
        try:
            await _screen_until(cdp, page, lambda screen: DAMAGES in screen, 5)
            return
        except pytest.fail.Exception:
            await _ctrl_key(cdp, page, "e")  # to the end of what did arrive, and clear it
            await _ctrl_key(cdp, page, "u")
    pytest.fail("the question typed into the page never showed in the question box")


async def _ctrl_key(cdp: DevTools, page: str, letter: str) -> None:
    key = {"key": letter, "code": f"Key{letter.upper()}", "modifiers": 2}
    key["windowsVirtualKeyCode"] = ord(letter.upper())
    await cdp.call("Input.dispatchKeyEvent", page, type="keyDown", **key)
    await cdp.call("Input.dispatchKeyEvent", page, type="keyUp", **key)


async def _screen_until(cdp: DevTools, page: str, done: Any, seconds: float) -> str:
    """Poll the terminal's screen text until ``done(text)``; fail showing the last screen."""
    deadline = time.monotonic() + seconds
    text = ""
    while time.monotonic() < deadline:
        result = await cdp.call("Runtime.evaluate", page, expression=SCREEN_JS, returnByValue=True)
        text = result["result"].get("value") or ""
        if done(text):
            return text
        await asyncio.sleep(0.5)
    pytest.fail(f"not on the page within {seconds} s; the screen showed:\n{text}")


@pytest.mark.browser
def test_browser_answers_the_damages_question(
    seed_index: Path, browser: str, tmp_path: Path
) -> None:
    served = Served(seed_index, free_port())
    shot = tmp_path / "qa-serve.png"
    try:
        screen = asyncio.run(_ask_in_browser(browser, served.link, shot))
        apps = served.app_pids()
    finally:
        err = served.stop()
    (tmp_path / "qa-serve.txt").write_text(screen, encoding="utf-8")
    assert CITATION in screen
    assert DAMAGES in screen  # the question as typed in the page, echoed in the transcript
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
    assert _wait_gone(apps) == [], f"app processes left running: {err}"
