"""Indexing progress from a worker thread → messages for the build progress bar."""

from __future__ import annotations

from textual.message_pump import MessagePump

from tui.messages import BuildAdvanced, BuildStarted, BuildWarning


class MessageProgress:
    """Implements ``qa.index.Progress`` by posting messages to ``target``."""

    def __init__(self, target: MessagePump) -> None:
        self._target = target

    def start(self, total: int, description: str) -> None:
        self._target.post_message(BuildStarted(total, description))

    def advance(self, n: int) -> None:
        self._target.post_message(BuildAdvanced(n))

    def finish(self) -> None:
        pass

    def warn(self, message: str) -> None:
        self._target.post_message(BuildWarning(message))
