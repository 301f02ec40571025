"""Workers that share one result folder's grid to the end.

Any number of ``sslbench run`` processes (``--workers N``, SLURM array tasks, or runs started by
hand with ``--resume``) may work on one ``--out`` folder. Each (cell, seed) is claimed with a
``flock`` that the kernel drops when its holder dies (:func:`sslbench.run.folder.claim`). A
worker scans its pairs in order: a pair done is dropped, a free pair is run, a pair another
worker holds is put back and retried after the others. When a scan leaves only held pairs, the
worker sleeps (0.5 s, doubling to 30 s; back to 0.5 s whenever it ran something) and scans
again, until every pair is done. So a pair whose worker dies — killed, preempted, out of
memory — is taken by a worker still running, and no merge or second ``--resume`` is needed.

With ``wait=False`` (``sslbench run --no-wait``) a worker instead ends as soon as every pair
left is held by a live worker: it frees its allocation sooner, but a pair whose worker dies
after the others ended stays undone until a ``--resume``.
"""
from __future__ import annotations

import enum
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

FIRST_SLEEP = 0.5  # seconds between scans that found only held pairs, doubling up to ...
MAX_SLEEP = 30.0  # ... this: a dead worker's pair waits at most this long (plus a scan) to be retaken

Pair = TypeVar("Pair")
_sleep = time.sleep


class Outcome(enum.Enum):
    """What one attempt at a pair found."""

    RAN = "ran"  # this worker claimed it and ran it
    DONE = "done"  # finished already (by another worker, or before a resume)
    HELD = "held"  # another live worker holds it now


def work(pairs: Sequence[Pair], attempt: Callable[[Pair], Outcome], *, wait: bool = True,
         sleep: Callable[[float], None] | None = None, on_wait: Callable[[int, float], None] | None = None) -> list[Pair]:
    """Attempt every pair, retrying held ones after the others, until none is left (see the module doc).

    Args:
        pairs: the pairs in the order to attempt them.
        attempt: claims and runs a pair; says what it found. Under torchrun every rank calls
            :func:`work` and ``attempt`` must return the same outcome on every rank.
        wait: keep scanning while pairs are held by others (else stop once only held pairs are left).
        sleep: how to wait between scans (default :func:`time.sleep`, looked up at each call so tests can
            replace ``workers._sleep``).
        on_wait: called as ``on_wait(held, seconds)`` before each sleep.

    Returns:
        The pairs still held by others when the worker stopped (empty with ``wait``).
    """
    pending, delay, sleep = list(pairs), FIRST_SLEEP, sleep or _sleep
    while pending:
        held, ran = [], False
        for pair in pending:
            outcome = attempt(pair)
            ran = ran or outcome is Outcome.RAN
            if outcome is Outcome.HELD:
                held.append(pair)
        pending = held
        if not pending or not wait:
            break
        if ran:
            delay = FIRST_SLEEP
        if on_wait is not None:
            on_wait(len(pending), delay)
        sleep(delay)
        delay = min(delay * 2, MAX_SLEEP)
    return pending
