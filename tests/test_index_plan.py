"""The indexer's plan, without a model, SQLite or FAISS: which sources are read, parsed,
dropped or re-stat'ed, and how a big run splits into parts."""

from __future__ import annotations

import os

from qa.fsutil import readable_by_mode
from qa.index.plan import Part, Plan
from qa.index.sources import RACY_SECONDS, settled_stat
from qa.store import StoredFile

RECORDED = {
    "a.txt": StoredFile(1, "A", "hash-a", "stat-a"),
    "b.txt": StoredFile(2, "B", "hash-b", "stat-b"),
    "gone.txt": StoredFile(3, "G", "hash-g", "stat-g"),
}


def never(key: str) -> str:
    raise AssertionError(f"the stat of {key} was taken")


def test_sources_are_unchanged_by_stat_or_digest_and_deleted_files_are_removed() -> None:
    plan: Plan[str] = Plan(RECORDED, ["a.txt", "b.txt", "new.txt"])
    assert plan.removed == [3]
    assert plan.known_by_stat("a.txt", lambda: "stat-a")  # not even read
    assert not plan.known_by_stat("b.txt", lambda: "touched")
    assert plan.known_by_digest("b.txt", "hash-b", "stat-b2")  # same bytes: new stat kept
    assert not plan.known_by_stat("new.txt", lambda: never("new.txt"))
    assert not plan.known_by_digest("new.txt", "hash-n", "stat-n")
    assert plan.add("new.txt", "hash-n", "N", 3, "doc N") is None
    assert (plan.added, plan.changed, plan.unchanged, plan.files_read) == (1, 0, 2, 2)
    assert plan.restat == {2: "stat-b2"}
    assert plan.rest() == Part(("doc N",), (), (3,))


def test_a_changed_file_replaces_its_row() -> None:
    plan: Plan[str] = Plan(RECORDED, ["a.txt", "b.txt", "gone.txt"])
    assert not plan.known_by_stat("a.txt", lambda: "stat-a2")
    assert not plan.known_by_digest("a.txt", "hash-a2", "stat-a2")
    assert plan.add("a.txt", "hash-a2", "A", 5, "doc A v2") is None
    assert (plan.added, plan.changed, plan.unchanged, plan.removed) == (0, 1, 0, [])
    assert plan.restat == {}  # the row is new: its stat goes in with it
    assert plan.rest() == Part(("doc A v2",), (1,), ())
    assert plan.rest().dropped == [1]


def test_a_racy_stat_is_not_recorded() -> None:
    fresh = os.stat(__file__)
    assert settled_stat(fresh, fresh.st_mtime_ns + RACY_SECONDS * 10**9 - 1) == ""
    settled = settled_stat(fresh, fresh.st_mtime_ns + RACY_SECONDS * 10**9)
    assert settled.startswith(f"{fresh.st_size}:{fresh.st_mtime_ns}:")
    plan: Plan[str] = Plan(RECORDED, ["a.txt", "b.txt"])
    assert plan.known_by_digest("a.txt", "hash-a", "")  # racy: unchanged, stat not kept
    assert plan.restat == {}


def test_reparse_reads_and_parses_every_source() -> None:
    plan: Plan[str] = Plan(RECORDED, ["a.txt", "b.txt"], reparse=True)
    assert not plan.known_by_stat("a.txt", lambda: never("a.txt"))
    assert not plan.known_by_digest("a.txt", "hash-a", "stat-a")
    assert plan.add("a.txt", "hash-a", "A", 2, "doc A") is None
    assert not plan.known_by_stat("b.txt", lambda: never("b.txt"))
    assert not plan.known_by_digest("b.txt", "hash-b2", "stat-b2")
    assert plan.add("b.txt", "hash-b2", "B", 2, "doc B") is None
    assert (plan.added, plan.changed, plan.unchanged, plan.files_read) == (0, 1, 1, 2)
    assert plan.rest() == Part(("doc A", "doc B"), (1, 2), (3,))


def test_a_renamed_file_takes_its_document_id_along() -> None:
    plan: Plan[str] = Plan(RECORDED, ["a.txt", "b.txt", "g-renamed.txt"])
    assert plan.removed == [3]
    assert plan.owner("g-renamed.txt", "g") == "g-renamed.txt"  # its old file is not listed
    assert plan.owner("a-copy.txt", "a") == "a.txt"  # a listed file keeps its id
    assert plan.owner("b.txt", "B") == "b.txt"
    plan.add("g-renamed.txt", "hash-g", "G", 1, "doc G")
    assert (plan.added, plan.changed) == (1, 0)
    assert plan.rest() == Part(("doc G",), (), (3,))


def test_parts_keep_whole_documents_and_the_first_takes_the_deleted_rows() -> None:
    plan: Plan[str] = Plan({}, ["d1", "d2", "d3", "d4", "d5"], part_passages=10)
    recorded_plan: Plan[str] = Plan(RECORDED, ["a.txt", "b.txt"], part_passages=10)
    assert [plan.add(k, "h", k.upper(), 4, k) for k in ("d1", "d2")] == [None, None]
    assert plan.add("d3", "h", "D3", 4, "d3") == Part(("d1", "d2", "d3"), (), ())
    assert plan.add("d4", "h", "D4", 9, "d4") is None
    assert plan.add("d5", "h", "D5", 1, "d5") == Part(("d4", "d5"), (), ())
    assert plan.parts == 2 and plan.rest() == Part((), (), ())
    first = recorded_plan.add("new1", "h", "N1", 12, "n1")
    assert first == Part(("n1",), (), (3,))  # the deleted file's row goes first
    assert recorded_plan.add("a.txt", "h2", "A", 12, "a2") == Part(("a2",), (1,), ())
    assert recorded_plan.rest() == Part((), (), ())


def test_no_part_without_a_limit() -> None:
    plan: Plan[str] = Plan(RECORDED, ["a.txt"])  # a rebuild commits once
    assert plan.add("new", "h", "N", 10**9, "n") is None
    assert plan.rest() == Part(("n",), (), (2, 3))


def test_a_part_waits_while_its_document_id_is_held_by_a_row_a_later_part_drops() -> None:
    # a.txt and b.txt swapped contents: a.txt's part would take "B", which b.txt's row
    # holds until b.txt is replaced (the plan's own rule; the run also asks owner()).
    plan: Plan[str] = Plan(RECORDED, ["a.txt", "b.txt"], part_passages=10)
    assert plan.add("a.txt", "hash-b", "B", 20, "a holds B") is None  # waits, growing
    part = plan.add("b.txt", "hash-a", "A", 20, "b holds A")
    assert part == Part(("a holds B", "b holds A"), (1, 2), (3,))
    assert (plan.changed, plan.parts) == (2, 1)


def test_a_row_dropped_by_an_earlier_part_holds_nothing() -> None:
    plan: Plan[str] = Plan(RECORDED, ["a.txt", "b.txt"], part_passages=10)
    assert plan.add("new", "h", "N", 10, "n") == Part(("n",), (), (3,))
    assert plan.add("c.txt", "h", "G", 10, "c holds G") == Part(("c holds G",), (), ())


def _stat(uid: int, mode: int) -> os.stat_result:
    return os.stat_result((mode, 1, 1, 1, uid, 0, 10, 0, 0, 0))


def test_an_owned_file_with_its_read_bit_needs_no_access_call() -> None:
    me = os.getuid()
    assert readable_by_mode(_stat(me, 0o100400)) is True
    assert readable_by_mode(_stat(me, 0o100200)) is None  # os.access decides (root may read)
    assert readable_by_mode(_stat(me + 1, 0o100444)) is None  # another's file: groups, ACLs
