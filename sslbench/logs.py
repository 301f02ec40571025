"""Logging as sslbench's CLI and plugins use it: what ``-q``/``-v``/``-vv`` mean, and
warnings said once per process (:func:`warn_once`, public API). Torch-free."""
from __future__ import annotations

import logging
import sys
from typing import Any

_OWN_PREFIX = "sslbench"  # the loggers of sslbench and of its built-in plugins (sslbench_<name>)


def configure_logging(verbosity: int) -> None:
    """Log records to stderr: ``-q`` (-1) and default (0) show warnings and errors;
    ``-v`` (1) adds INFO and ``-vv`` (2) DEBUG records of sslbench's and its plugins'
    loggers (names starting with ``sslbench``), e.g. the training loop's loss every
    ``log_every`` steps. Other libraries stay at WARNING."""
    own = logging.WARNING if verbosity <= 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.addFilter(lambda record: record.levelno >= logging.WARNING
                      or (record.name.startswith(_OWN_PREFIX) and record.levelno >= own))
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_sslbench", False)]:
        root.removeHandler(old)
    root.setLevel(min(own, logging.WARNING))
    if root.handlers:  # as logging.basicConfig: a program embedding sslbench (or pytest) already logs
        return
    handler._sslbench = True  # type: ignore[attr-defined]  # replaced, not stacked, by a second call
    root.addHandler(handler)


_WARNED: set[tuple[str, str]] = set()


def warn_once(logger: logging.Logger, message: str, *args: Any) -> None:
    """Log a warning the first time this process sees it (same logger, same formatted
    text), and at INFO after that: a dataset loaded again (every rank, every seed's
    build, the conformance kit) repeats its facts only under ``-v``.

    Usage from a plugin: ``warn_once(log, "%s: %d test items never occur in pretraining", name, n)``.
    """
    text = message % args if args else message
    key = (logger.name, text)
    logger.log(logging.INFO if key in _WARNED else logging.WARNING, "%s", text)
    _WARNED.add(key)
