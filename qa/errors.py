"""One exception hierarchy for everything a user can cause, mapped to exit codes.

Library code raises these with a message fit to show a user as is (naming the file or
value and what is wrong, and the fix where there is one); the CLI turns them into one
line on stderr and the matching exit code. Nothing else should reach the user.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes of the ``qa`` command (documented in the README)."""

    OK = 0
    ERROR = 1
    USAGE = 2
    PARTIAL = 3  # indexing finished but some files were skipped
    NO_INDEX = 4
    INDEX_DAMAGED = 5
    BUSY = 6  # another process holds the index lock
    NOT_VERIFIED = 7  # qa verify: some quote is not verbatim or near (checked, found wanting)
    # No code for "nothing relevant": ``qa ask`` exits 0 and its JSON says ``relevant``
    # (a code would turn every unanswerable question into a failed script step).


class QAError(Exception):
    """Base class: a problem the user can understand and act on."""

    exit_code: ExitCode = ExitCode.ERROR


class UsageError(QAError):
    """Bad arguments or question (empty question, unknown mode, bad date)."""

    exit_code = ExitCode.USAGE


class RemovalRefusedError(UsageError):
    """A run would remove most (or all) of the index's documents: an empty, unmounted or
    mistyped corpus folder looks just like deleting every file, so it is not done unasked."""


class IngestError(QAError):
    """A corpus file could not be parsed; the message names the file and the reason."""


class NoIndexError(QAError):
    """There is no index at the given location yet."""

    exit_code = ExitCode.NO_INDEX


class IndexDamagedError(QAError):
    """The on-disk index is inconsistent, truncated or from another model/chunker."""

    exit_code = ExitCode.INDEX_DAMAGED


class IndexUnreadableError(QAError):
    """A file of the index exists but this user may not read it: a permission to grant,
    not damage to repair (so no rebuild is advised)."""


class IndexBusyError(QAError):
    """Another ``qa index`` holds the write lock."""

    exit_code = ExitCode.BUSY


class ModelError(QAError):
    """The embedding model could not be loaded (missing package, bad name or path)."""
