"""What ``sslbench run`` shows while it works: one line per finished (cell, seed).

:class:`ProgressReporter` is a plugin of sslbench's own hooks (``sslbench_cell_start``,
``sslbench_cell_finish``, ``sslbench_run_finish``) that the CLI registers unless ``-q``
is given. Every line goes to stderr, with or without a terminal::

    [3/12] digits/simclr/cnn-small seed 0: ok  knn digit top1=0.8123  41.2s  (done 3/12, 2m03s, ETA 6m10s)

On a terminal a live bar of the grid (and the training loop's own per-step bar below
it) is drawn as well; the lines are written above the bars. The reporter is marked
``sslbench_internal`` so that it never appears in a row's provenance.

"""
from __future__ import annotations

import sys
import time
from typing import Any, TextIO

import pluggy

hookimpl = pluggy.HookimplMarker("sslbench")


class ProgressReporter:
    """Prints a line per finished (cell, seed) with status, headline metric, time and ETA.

    Args:
        stream: where lines go (stderr by default).
        bar: draw a live bar of the grid; default: when ``stream`` is a terminal.
        clock: seconds, monotonic (tests pass a fake).
    """

    sslbench_internal = True  # not a component plugin: left out of provenance

    def __init__(self, stream: TextIO | None = None, *, bar: bool | None = None,
                 clock: Any = time.perf_counter) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.use_bar = _is_tty(self.stream) if bar is None else bar
        self.clock = clock
        self.started: float | None = None
        self.cell_started = 0.0
        self.finished = 0
        self._bar: Any = None

    @hookimpl
    def sslbench_run_start(self, plan: Any, out_dir: Any) -> None:
        """The plan: how many cells, and every combination skipped with the reason.

        Printed when the run starts (the out folder accepted, the datasets loaded), so that a
        refused run says its one line and nothing else.
        """
        self._write(f"{len(plan.cells)} cells ({len(plan.pretrained)} pretrained + baselines)")
        for skip in plan.skipped:
            self._write(f"skipped: {skip}")

    @hookimpl
    def sslbench_cell_start(self, cell: Any, seed: int, index: int, total: int) -> None:
        now = self.clock()
        if self.started is None:
            self.started = now
        self.cell_started = now
        if self.use_bar and self._bar is None:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total, initial=index - 1, desc="grid", unit="cell", file=self.stream,
                             position=0, leave=False, dynamic_ncols=True)
        if self._bar is not None:
            self._bar.set_postfix_str(f"{cell.key} seed {seed}", refresh=True)

    @hookimpl
    def sslbench_cell_finish(self, cell: Any, seed: int, rows: list[dict[str, Any]] | None,
                             index: int, total: int) -> None:
        now = self.clock()
        self.finished += 1
        line = format_line(cell.key, seed, rows, index=index, total=total, seconds=now - self.cell_started,
                           elapsed=now - (now if self.started is None else self.started), finished=self.finished)
        self._write(line)
        if self._bar is not None:
            self._bar.update(1)

    @hookimpl
    def sslbench_run_finish(self, summary: Any) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def _write(self, line: str) -> None:
        if self._bar is not None:
            self._bar.write(line, file=self.stream)
        else:
            print(line, file=self.stream, flush=True)


def format_line(key: str, seed: int, rows: list[dict[str, Any]] | None, *, index: int, total: int,
                seconds: float, elapsed: float, finished: int) -> str:
    """``[i/N] dataset/task/model seed S: STATUS  HEADLINE  TIME  (done i/N, ELAPSED, ETA T)``.

    The ETA is the mean time of the (cell, seed) pairs this run finished so far times
    those left; rough, since a random-init baseline takes a fraction of a pretrained cell.
    """
    status, best = headline(rows)
    left = total - index
    eta = _duration(elapsed / finished * left) if finished and left else "0s"
    parts = [f"[{index}/{total}] {key} seed {seed}: {status}"]
    if best:
        parts.append(best)
    parts.append(_duration(seconds))
    return "  ".join(parts) + f"  (done {index}/{total}, {_duration(elapsed)}, ETA {eta})"


def headline(rows: list[dict[str, Any]] | None) -> tuple[str, str]:
    """(status, headline) of one (cell, seed)'s rows.

    Status is ``ok``, or the first row's failure status with its message, or
    ``left to another run`` when the rows are None. The headline is the first ok
    row's ``evaluator [label set] metric=value``.
    """
    if rows is None:
        return "left to another run", ""
    if not rows:
        return "ok", "no metrics"
    bad = next((r for r in rows if r.get("status") != "ok"), None)
    status = "ok" if bad is None else f"{bad['status']} ({_shorten(bad.get('message', ''))})"
    good = next((r for r in rows if r.get("status") == "ok" and r.get("value") is not None), None)
    if good is None:
        return status, ""
    label = f" {good['label_set']}" if good.get("label_set") else ""
    return status, f"{good['evaluator']}{label} {good['metric']}={good['value']:.4g}"


def _is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _shorten(message: str, limit: int = 80) -> str:
    first = message.splitlines()[0] if message else ""
    return first if len(first) <= limit else first[: limit - 1] + "…"


def _duration(seconds: float) -> str:
    """``41.2s``, ``2m03s``, ``1h05m``."""
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"
