"""Errors a user can fix. The CLI prints each as one line and exits with status 2.

Everything else that escapes is a bug in sslbench or a plugin and keeps its traceback.
"""
from __future__ import annotations


class UsageError(Exception):
    """Base class: bad input from the user (config, CLI, data, plugin set-up)."""


class ConfigError(UsageError):
    """A config file is malformed or names something that does not exist.

    The message always says where (file and key), what is wrong and what is allowed.
    """

    def __init__(self, where: str, key: str, problem: str) -> None:
        self.where, self.key, self.problem = where, key, problem
        location = f"{where}: {key}: " if key else f"{where}: "
        super().__init__(one_line(location + problem))


def one_line(text: str) -> str:
    """``text`` with control characters (a TOML key may hold a newline) written as escapes, e.g. ``\\n``."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class PluginError(UsageError):
    """A plugin failed to load, implements an unknown hook, or clashes with another."""


class UnknownComponentError(UsageError):
    """A component name that no loaded plugin registered."""


class AmbiguousNameError(UnknownComponentError):
    """A short component name that several plugins register; the message lists the ``plugin:name`` forms."""


class WeightsError(UsageError):
    """A model's outside weights (its ``weights`` option) cannot be read or do not fit it: the
    run stops with this one line, rather than recording a failed cell, since every cell of the
    model would fail the same way."""
