"""F3: check the quotes of a draft against the open index (``qa verify`` in the TUI).

``VerifyScreen`` asks for the draft's path; ``check_draft`` (run by the chat's ``verify``
thread worker) reads the draft and checks it with ``qa.verify.Verifier`` on a read-only
connection of its own, closed when done, borrowing the chat's searcher (its vectors and
loaded model) only for quotes the words do not find. Errors are ``QAError``\\s naming the
file, which the worker's failure hook shows as one notification.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label

from qa.errors import NoIndexError
from tui.session import Verification

if TYPE_CHECKING:  # numpy and the searcher: imported by the worker, not the first frame
    import numpy as np

    from qa.search.searcher import Searcher


class VerifyScreen(ModalScreen[Path | None]):
    """Dismisses with the draft's path (Enter) or ``None`` (Escape, or nothing typed)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel", show=True)]
    AUTO_FOCUS = "#verify-path"

    def __init__(self, default: str = "") -> None:
        super().__init__()
        self._default = default

    def compose(self) -> ComposeResult:
        with Vertical(id="verify-box", classes="dialog"):
            yield Label("Check the quotes of a draft", classes="dialog-title")
            yield Input(self._default, placeholder="drafts/story.md", id="verify-path")
            yield Label(
                "a Markdown or text file · enter checks it · escape cancels", classes="hint"
            )

    @on(Input.Submitted, "#verify-path")
    def _submit(self, event: Input.Submitted) -> None:
        event.stop()
        value = event.value.strip()
        self.dismiss(Path(value) if value else None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ChatDense:
    """``qa.verify.dense.Dense`` over the chat's searcher, as it stands: its model (loaded
    once, shared) and its vectors. Never refreshed or closed here: the chat owns it."""

    def __init__(self, searcher: Searcher) -> None:
        self._searcher = searcher

    def embed(self, text: str) -> np.ndarray:
        return self._searcher.warm().embed([text])[0]

    def nearest(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        from qa import vectors
        from qa.search import rank

        # Windows of one passage compete for slots: over-fetch, keep each passage's best.
        scores, ids = self._searcher.vectors.search(vector, k * 3)
        return rank.best_per_passage(scores.tolist(), vectors.passage_of(ids).tolist(), k)


def check_draft(path: Path, searcher: Searcher) -> Verification:
    """Read the draft at ``path`` and check every quote against ``searcher``'s index."""
    from qa import store
    from qa.locations import db_path
    from qa.verify import Verifier
    from qa.verify.draft import read_draft_file

    draft = read_draft_file(path)
    db = store.connect(db_path(searcher.index_dir), readonly=True)
    try:
        if not store.read_manifest(db).generation:
            raise NoIndexError(f"index at {searcher.index_dir} is empty: run `qa index`")
        report = Verifier(db, ChatDense(searcher)).verify(draft)
    finally:
        db.close()
    return Verification(str(path), draft, report)
