"""The fault-injection pass: kill, corrupt, fill and feed bad input to the real ``sslbench`` CLI.

Each trial runs ``python -m sslbench`` in subprocesses against tiny configs of the test
plugin (``tests/fake_plugin.py``: the ``blobs`` dataset, the ``mlp`` model), inside a
fresh sandbox folder, and checks what docs/reliability.md promises:

(a) no Python traceback on stderr (unless the run was given ``--traceback``);
(b) a user's mistake: exit 2, exactly one line on stderr, nothing written;
(c) after kills, signals, a full disk or damage and then ``--resume``: the rows (identity
    and value) and loss curves equal those of an uninterrupted reference run;
(d) nothing outside ``--out`` is written (the sandbox is snapshotted before and after);
(e) no ``.tmp`` file and no pending commit is left after a successful resume.

Trial classes: kill, signal, corruption, concurrency, bad_input, hostile, disk. Full
disks are injected by a ``sitecustomize`` module on the subprocess's ``PYTHONPATH``
that makes ``os.write`` / ``os.fsync`` on files under ``--out`` fail with ``ENOSPC``,
``EDQUOT`` or ``EIO`` after a chosen number of bytes; "making room" is running again
without it.

Usage::

    python benchmarks/faults/inject.py [--trials N] [--seed S] [--classes kill,disk] [--jobs J]

It writes ``benchmarks/faults/log.jsonl`` (one line per trial) and ``benchmarks/faults/RESULTS.md``
(counts per class and every failure's command and stderr tail). Exit status 1 when a
trial failed. Paths of this machine are written as ``$SANDBOX``/``$WORK``/``$REPO``/``$PYTHON``.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import datetime as dt
import hashlib
import json
import logging
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(REPO))

from sslbench.jsonl import read_records
from sslbench.results import IDENTITY_KEYS, read_rows

logging.disable(logging.WARNING)  # the torn tails this pass makes are reported by the CLI, not here

TRACEBACK = "Traceback (most recent call last)"
CLASS_WEIGHTS = {"kill": 40, "signal": 25, "corruption": 45, "concurrency": 12, "bad_input": 42, "hostile": 30,
                 "disk": 30}
"""Share of the trials per class (the default 224 trials)."""
TIMEOUT = 300
PREPARED_STATE = "ready"
"""What `sslbench data list --json` says of a prepared, verified dataset."""

CONFIG = """\
[run]
suite = "{suite}"
seeds = {seeds}
device = "cpu"
steps = {steps}
batch_size = 16
lr = 0.003
checkpoint_every = {every}
threads = 1
[grid]
datasets = ["blobs"]
tasks = ["simclr"]
models = ["{model}"]
evaluators = ["knn", "linear-probe"]
[datasets.blobs]
n = 240
dim = 4
classes = 6
[tasks.simclr]
hidden_dim = 16
projection_dim = 8
"""

CONFIGS = {
    "a": {"seeds": "[0, 1]", "steps": 40, "every": 5},
    "b": {"seeds": "[0, 1, 2]", "steps": 24, "every": 0},
}
"""The two tiny configs kill, signal, corruption, concurrency and disk trials use; one reference run each."""

BROKEN_PLUGIN = '''\
"""A plugin whose model fails to build: its cells fail (and store a traceback)."""
from sslbench import ModelSpec, hookimpl


def _build(ctx, opts):
    raise RuntimeError("this model always fails")


@hookimpl
def sslbench_register_models():
    return [ModelSpec(name="broken", modalities={"vector"}, build=_build, description="fails to build")]
'''

DISK_FAULTS = '''\
"""sitecustomize of the fault-injection pass: a disk that fills up under --out."""
import errno
import os

_OUT = os.environ.get("SSLBENCH_FAULT_OUT")
if _OUT:
    _OUT = os.path.realpath(_OUT)
    _AFTER = int(os.environ["SSLBENCH_FAULT_AFTER"])
    _ERRNO = getattr(errno, os.environ.get("SSLBENCH_FAULT_ERRNO", "ENOSPC"))
    _OP = os.environ.get("SSLBENCH_FAULT_OP", "write")
    _MATCH = os.environ.get("SSLBENCH_FAULT_MATCH", "")  # only files whose path holds this
    _written = [0]
    _write, _fsync = os.write, os.fsync

    def _under_out(fd):
        try:
            path = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            return False
        return path.startswith(_OUT + os.sep) and _MATCH in path[len(_OUT):]

    if os.environ.get("SSLBENCH_FAULT_COUNT_TO"):  # count mode: how many bytes a whole run writes
        import atexit

        atexit.register(lambda: open(os.environ["SSLBENCH_FAULT_COUNT_TO"], "w").write(str(_written[0])))

    def write(fd, data):
        if _under_out(fd):
            room = _AFTER - _written[0]
            if room <= 0 and _OP == "write":
                raise OSError(_ERRNO, os.strerror(_ERRNO))
            if _OP == "write" and len(data) > room:
                data = memoryview(data)[:room]  # a short write: the next one fails
            _written[0] += len(data)
        return _write(fd, data)

    def fsync(fd):
        if _OP == "fsync" and _written[0] >= _AFTER and _under_out(fd):
            raise OSError(_ERRNO, os.strerror(_ERRNO))
        return _fsync(fd)

    os.write, os.fsync = write, fsync
'''


@dataclasses.dataclass
class Call:
    """One CLI invocation of a trial: what ran and what it said."""

    args: list[str]
    rc: int | None = None
    stderr: str = ""
    stdout: str = ""


@dataclasses.dataclass
class Outcome:
    """A trial's verdict."""

    index: int
    klass: str
    kind: str
    problems: list[str] = dataclasses.field(default_factory=list)
    calls: list[Call] = dataclasses.field(default_factory=list)
    seconds: float = 0.0

    @property
    def held(self) -> bool:
        return not self.problems


@dataclasses.dataclass
class Reference:
    """An uninterrupted run of one config: its rows and curves, and how long it took."""

    config: Path
    rows: dict[tuple, Any]
    curves: dict[tuple, Any]
    seconds: float
    bytes: int = 0  # what the run wrote under --out (os.write), for the disk trials' fault points


class Sandbox:
    """A trial's private folder: cwd, inputs, an ``outside`` folder that must never change, the data cache."""

    def __init__(self, root: Path, outcome: Outcome, disk_faults: bool = False) -> None:
        self.root, self.outcome = root, outcome
        self.cwd, self.inputs, self.outside, self.site = (root / n for n in ("cwd", "in", "outside", "site"))
        for folder in (self.cwd, self.inputs, self.outside, self.site):
            folder.mkdir(parents=True)
        (self.outside / "precious.txt").write_text("keep me\n")
        (self.site / "broken_plugin.py").write_text(BROKEN_PLUGIN)
        if disk_faults:
            (self.site / "sitecustomize.py").write_text(DISK_FAULTS)
        self.data = root / "data"

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        paths = [self.site, REPO / "tests", REPO, REPO / "plugins", REPO / "plugins" / "example-plugin" / "src"]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(map(str, paths)), "OMP_NUM_THREADS": "1",
               "PYTHONDONTWRITEBYTECODE": "1", "SSLBENCH_DATA": str(self.data)}
        env.pop("PYTHONSTARTUP", None)
        return {**env, **(extra or {})}

    def command(self, args: Sequence[str], plugin: bool = True) -> list[str]:
        return ["nice", "-n", "19", sys.executable, "-m", "sslbench", *(["-p", "fake_plugin"] if plugin else []),
                *map(str, args)]

    def run(self, args: Sequence[str], *, env: dict[str, str] | None = None, plugin: bool = True) -> Call:
        """Run the CLI to completion; the traceback check (a) is applied to every call."""
        call = Call([str(a) for a in args])
        self.outcome.calls.append(call)
        try:
            done = subprocess.run(self.command(args, plugin), cwd=self.cwd, env=self.env(env), capture_output=True,
                                  text=True, errors="replace", timeout=TIMEOUT, check=False)
            call.rc, call.stderr, call.stdout = done.returncode, done.stderr, done.stdout
        except subprocess.TimeoutExpired as err:
            call.rc, call.stderr = None, str(err.stderr or "")
            self.problem(f"timed out after {TIMEOUT} s: {' '.join(call.args)}")
        self.check_traceback(call)
        return call

    def start(self, args: Sequence[str], env: dict[str, str] | None = None,
              close_stdout: bool = False) -> tuple[subprocess.Popen, Call]:
        """Start the CLI (``nice`` execs Python, so signals reach Python itself); ``close_stdout``: its
        reader goes away at once, as ``sslbench ... | head -1`` does."""
        call = Call([str(a) for a in args])
        self.outcome.calls.append(call)
        proc = subprocess.Popen(self.command(args), cwd=self.cwd, env=self.env(env),
                                stdout=subprocess.PIPE if close_stdout else subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True, errors="replace")
        if close_stdout:
            proc.stdout.close()
        return proc, call

    def finish(self, proc: subprocess.Popen, call: Call) -> Call:
        try:
            _, call.stderr = proc.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, call.stderr = proc.communicate()
            self.problem(f"timed out after {TIMEOUT} s: {' '.join(call.args)}")
        call.rc = proc.returncode
        self.check_traceback(call)
        return call

    def check_traceback(self, call: Call) -> None:
        if TRACEBACK in call.stderr and "--traceback" not in call.args:
            self.problem(f"(a) traceback on stderr of: {' '.join(call.args)}")

    def problem(self, text: str) -> None:
        self.outcome.problems.append(text)

    def config(self, name: str, text: str) -> Path:
        path = self.inputs / name
        path.write_text(text)
        return path


# ---------------------------------------------------------------- checks


def snapshot(root: Path, skip: Sequence[Path] = ()) -> dict[str, tuple]:
    """Every entry under ``root`` (not following links): kind, size, content hash or link target."""
    skipped = {str(p) for p in skip}
    seen: dict[str, tuple] = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if os.path.join(folder, d) not in skipped]
        for name in dirs + files:
            path = os.path.join(folder, name)
            if path in skipped:
                continue
            seen[os.path.relpath(path, root)] = _entry(path)
    return seen


def _entry(path: str) -> tuple:
    if os.path.islink(path):
        return ("link", os.readlink(path))
    if os.path.isdir(path):
        return ("dir",)
    with open(path, "rb") as f:
        return ("file", hashlib.sha256(f.read()).hexdigest())


def diff(before: dict[str, tuple], after: dict[str, tuple]) -> list[str]:
    """Names that appeared, vanished or changed."""
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    return changed


def expect_usage_error(box: Sandbox, call: Call, before: dict[str, tuple], match: str = "") -> None:
    """(b): exit 2, one line on stderr, nothing in the sandbox changed."""
    lines = [line for line in call.stderr.splitlines() if line.strip()]
    if call.rc != 2:
        box.problem(f"(b) exit {call.rc}, expected 2 for a user's mistake")
    if len(lines) != 1:
        box.problem(f"(b) {len(lines)} lines on stderr, expected exactly one")
    elif match and match not in lines[0]:
        box.problem(f"(b) the line does not say {match!r}")
    changed = diff(before, snapshot(box.root))
    if changed:
        box.problem(f"(b) a refused command wrote or changed: {', '.join(changed[:5])}")


def expect_outside_unchanged(box: Sandbox, before: dict[str, tuple], outs: Sequence[Path]) -> None:
    """(d): nothing but the --out folders changed in the sandbox."""
    inside = [os.path.relpath(o, box.root) for o in outs]
    kept = {k: v for k, v in before.items() if not any(k == o or k.startswith(o + os.sep) for o in inside)}
    changed = diff(kept, snapshot(box.root, skip=outs))
    if changed:
        box.problem(f"(d) written outside --out: {', '.join(changed[:5])}")


def row_map(out: Path) -> dict[tuple, Any]:
    """identity (without the suite) → (status, value); duplicates are a problem of their own."""
    rows = read_rows(out)
    found: dict[tuple, Any] = {}
    for row in rows:
        key = tuple(row[k] for k in IDENTITY_KEYS if k != "suite")
        if key in found:
            raise AssertionError(f"duplicated row {key}")
        found[key] = (row["status"], row["value"])
    return found


def curve_map(out: Path) -> dict[tuple, Any]:
    """(dataset, task, model, seed) → losses; duplicates are a problem."""
    path = out / "curves.jsonl"
    found: dict[tuple, Any] = {}
    if not path.exists():
        return found
    for curve in read_records(path):  # a torn tail is skipped, as every reader of sslbench does
        key = (curve["dataset"], curve["task"], curve["model"], curve["seed"])
        if key in found:
            raise AssertionError(f"duplicated curve {key}")
        found[key] = curve["losses"]
    return found


def expect_reference(box: Sandbox, out: Path, ref: Reference) -> None:
    """(c) and (e): the rows and curves of the uninterrupted run; no .tmp file, no pending record."""
    try:
        rows, curves = row_map(out), curve_map(out)
    except Exception as err:  # noqa: BLE001 - any failure to read is a finding
        box.problem(f"(c) the result folder does not read back: {type(err).__name__}: {err}")
        return
    if rows != ref.rows:
        missing = sorted(set(ref.rows) - set(rows), key=repr)
        wrong = sorted((k for k in rows if k in ref.rows and rows[k] != ref.rows[k]), key=repr)
        extra = sorted(set(rows) - set(ref.rows), key=repr)
        box.problem(f"(c) rows differ from the uninterrupted run: {len(missing)} missing, {len(wrong)} different "
                    f"({wrong[:1]}), {len(extra)} extra")
    if curves != ref.curves:
        box.problem(f"(c) loss curves differ: {len(set(ref.curves) - set(curves))} missing, "
                    f"{sum(curves.get(k) != v for k, v in ref.curves.items() if k in curves)} different")
    leftovers = [str(p.relative_to(out)) for p in out.rglob(".*.tmp")]
    leftovers += [str(p.relative_to(out)) for p in (out / "pending").glob("*.json")] if (out / "pending").is_dir() else []
    if leftovers:
        box.problem(f"(e) left over after a successful resume: {', '.join(leftovers[:5])}")


def expect_exit(box: Sandbox, call: Call, allowed: Sequence[int | None], why: str) -> None:
    if call.rc not in allowed:
        tail = call.stderr.strip().splitlines()[-1:] or [""]
        box.problem(f"exit {call.rc} ({why}; allowed {list(allowed)}): {tail[0][:200]}")


def resume_to_reference(box: Sandbox, out: Path, ref: Reference, before: dict[str, tuple],
                        env: dict[str, str] | None = None) -> None:
    """The closing ``--resume`` every interrupted trial ends with: exit 0 and the reference results."""
    call = box.run(["run", ref.config, "--out", out, "--resume", "-q"], env=env)
    expect_exit(box, call, [0], "resume after the fault")
    if call.rc == 0:
        expect_reference(box, out, ref)
    expect_outside_unchanged(box, before, [out])


# ---------------------------------------------------------------- trials


def copy_reference(box: Sandbox, ref: Reference, out: Path) -> None:
    shutil.copytree(ref.config.parent / f"out-{ref.config.stem}", out, symlinks=True)


def drop_last_cell(out: Path, rng: random.Random) -> str:
    """Remove the rows of one committed pretrained (cell, seed) as a lost tail would; returns its name."""
    rows = [json.loads(line) for line in (out / "rows.jsonl").read_text().splitlines()]
    seeds = sorted({r["seed"] for r in rows if r["task"] == "simclr"})
    seed = rng.choice(seeds)
    kept = [r for r in rows if not (r["task"] == "simclr" and r["seed"] == seed)]
    (out / "rows.jsonl").write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in kept))
    return f"blobs--simclr--mlp--seed{seed}"


def tear_tail(path: Path, rng: random.Random, how: str) -> None:
    """Damage the end of a JSON-lines file as an interrupted write or a crash does."""
    data = path.read_bytes()
    last = data.rfind(b"\n", 0, len(data) - 1) + 1
    if how == "torn":
        path.write_bytes(data[: rng.randint(last, len(data) - 1)])
    elif how == "nul-tail":
        cut = rng.randint(last, len(data))
        path.write_bytes(data[:cut] + b"\0" * (len(data) - cut + rng.randint(0, 4096)))
    else:  # nul-append: the file grew, the data never reached the disk
        path.write_bytes(data + b"\0" * rng.randint(1, 8192))


def kill_trial(box: Sandbox, rng: random.Random, refs: dict[str, Reference]) -> str:
    """SIGKILL at a random moment (twice, sometimes: the resume too), then --resume."""
    ref = refs[rng.choice(sorted(refs))]
    out, before = box.root / "out", snapshot(box.root)
    kills = 2 if rng.random() < 0.3 else 1
    for attempt in range(kills):
        proc, call = box.start(["run", ref.config, "--out", out, "-q", *(["--resume"] if attempt else [])])
        time.sleep(rng.uniform(0.2, ref.seconds * 1.1))
        proc.send_signal(signal.SIGKILL)
        box.finish(proc, call)
    resume_to_reference(box, out, ref, before)
    return f"sigkill x{kills}"


def signal_trial(box: Sandbox, rng: random.Random, refs: dict[str, Reference]) -> str:
    """SIGINT (Ctrl-C, at start-up too) or SIGTERM at a random moment, then --resume."""
    ref = refs[rng.choice(sorted(refs))]
    out, before = box.root / "out", snapshot(box.root)
    kind = rng.choice(["SIGINT start-up", "SIGINT", "SIGTERM", "SIGTERM start-up", "stdout closed"])
    if kind == "stdout closed":
        return closed_stdout(box, rng, ref, out, before)
    delay = rng.uniform(0.02, 1.5) if "start-up" in kind else rng.uniform(0.5, ref.seconds * 1.1)
    sig = signal.SIGINT if kind.startswith("SIGINT") else signal.SIGTERM
    proc, call = box.start(["run", ref.config, "--out", out, "-q"])
    time.sleep(delay)
    proc.send_signal(sig)
    box.finish(proc, call)
    expect_exit(box, call, [0, 130, -sig] if sig == signal.SIGINT else [0, -sig], kind)
    if call.rc == 130:
        lines = [line for line in call.stderr.splitlines() if line.strip() and "WARNING" not in line]
        if lines[-1:] != ["sslbench: interrupted"]:
            box.problem(f"(b) Ctrl-C did not end in 'sslbench: interrupted': {lines[-3:]}")
    resume_to_reference(box, out, ref, before)
    return f"{kind} after {delay:.2f} s"


def closed_stdout(box: Sandbox, rng: random.Random, ref: Reference, out: Path, before: dict[str, tuple]) -> str:
    """The reader of stdout goes away (SIGPIPE, ``| head``): no traceback; a run's results stay whole."""
    args = rng.choice([["run", ref.config, "--out", out, "-q"], ["list", "--json"], ["data", "list", "--json"]])
    proc, call = box.start(args, close_stdout=True)
    box.finish(proc, call)
    if args[0] == "run":
        resume_to_reference(box, out, ref, before)
    else:
        expect_outside_unchanged(box, before, [])
    return f"stdout closed: {args[0]}{'' if args[0] == 'run' else ' ' + args[1]}"


CORRUPTIONS = ["rows torn", "rows nul-tail", "rows nul-append", "curves torn", "curves nul-tail", "curves nul-append",
               "commits torn", "commits nul-tail", "commits nul-append", "checkpoint bit flip",
               "checkpoint truncated", "checkpoint garbage", "pending garbage", "stale tmp files",
               "rows torn mid-file", "rows holds [1,2]", "manifest holds []", "manifest not JSON",
               "locks is a file", "rows is a folder"]
REFUSED = {"rows torn mid-file": "", "rows holds [1,2]": "not a JSON row", "manifest holds []": "not an sslbench manifest",
           "manifest not JSON": "is not valid JSON", "locks is a file": "a file stands where",
           "rows is a folder": "is not a regular file"}


def corruption_trial(box: Sandbox, rng: random.Random, refs: dict[str, Reference], index: int) -> str:
    """Damage a finished (or partly lost) result folder, then --resume: healed, or refused in one line."""
    ref = refs[rng.choice(sorted(refs))]
    kind = CORRUPTIONS[index % len(CORRUPTIONS)]
    out = box.root / "out"
    copy_reference(box, ref, out)
    damage(out, kind, rng)
    before = snapshot(box.root)
    if kind in REFUSED:
        call = box.run(["run", ref.config, "--out", out, "--resume", "-q"])
        expect_usage_error(box, call, before, REFUSED[kind])
    else:
        resume_to_reference(box, out, ref, before)
    return kind


def damage(out: Path, kind: str, rng: random.Random) -> None:
    """Apply corruption ``kind`` to the finished result folder ``out``."""
    what, _, how = kind.partition(" ")
    if what in ("rows", "curves", "commits") and how in ("torn", "nul-tail", "nul-append"):
        tear_tail(out / f"{what}.jsonl", rng, how)
    elif what == "checkpoint":
        name = drop_last_cell(out, rng)
        ckpt = out / "checkpoints" / f"{name}.pt"
        data = bytearray(ckpt.read_bytes())
        if how == "bit flip":
            spot = rng.randrange(len(data))
            data[spot] ^= 1 << rng.randrange(8)
        elif how == "truncated":
            data = data[: rng.randrange(len(data))]
        else:
            data = bytearray(rng.randbytes(len(data)))
        ckpt.write_bytes(bytes(data))
    elif kind == "pending garbage":
        name = drop_last_cell(out, rng)
        (out / "pending").mkdir(exist_ok=True)
        (out / "pending" / f"{name}.json").write_bytes(rng.randbytes(rng.randint(0, 300)))
    elif kind == "stale tmp files":
        drop_last_cell(out, rng)
        dead = 2**22 + rng.randrange(10**6)  # above pid_max on most systems: surely not alive
        (out / f".rows.jsonl.{dead}.tmp").write_text("half")
        (out / "checkpoints" / f".blobs--simclr--mlp--seed0.pt.{dead}.tmp").write_bytes(b"\0" * 100)
    else:
        refused_damage(out, kind, rng)


def refused_damage(out: Path, kind: str, rng: random.Random) -> None:
    """Damage no one should paper over (the run must refuse it in one line)."""
    drop_last_cell(out, rng)  # so that the resume has work to do, and would write
    rows = out / "rows.jsonl"
    if kind == "rows torn mid-file":
        lines = rows.read_bytes().splitlines(keepends=True)
        spot = rng.randrange(len(lines) - 1)
        lines[spot] = lines[spot][: rng.randint(1, len(lines[spot]) - 2)] + b"\n"
        rows.write_bytes(b"".join(lines))
    elif kind == "rows holds [1,2]":
        rows.write_text("[1, 2]\n")
    elif kind == "manifest holds []":
        (out / "manifest.json").write_text("[]")
    elif kind == "manifest not JSON":
        (out / "manifest.json").write_bytes(rng.randbytes(64))
    elif kind == "locks is a file":
        shutil.rmtree(out / "locks")
        (out / "locks").write_text("")
    elif kind == "rows is a folder":
        rows.unlink()
        rows.mkdir()


def concurrency_trial(box: Sandbox, rng: random.Random, refs: dict[str, Reference], index: int) -> str:
    """Two runs on one --out (with and without --resume), or two concurrent `data prepare`."""
    kind = ["two --resume runs", "two plain runs", "two data prepare"][index % 3]
    if kind == "two data prepare":
        return prepare_race(box, rng)
    ref = refs[rng.choice(sorted(refs))]
    out, before = box.root / "out", snapshot(box.root)
    flag = ["--resume"] if kind == "two --resume runs" else []
    first = box.start(["run", ref.config, "--out", out, "-q", *flag])
    time.sleep(rng.uniform(0, 2.0))
    second = box.start(["run", ref.config, "--out", out, "-q", *flag])
    for proc, call in (first, second):
        box.finish(proc, call)
        expect_exit(box, call, [0] if flag else [0, 2], kind)
        if call.rc == 2 and "already holds results of this config" not in call.stderr:
            box.problem(f"(b) the second plain run was refused for another reason: {call.stderr.strip()[:200]}")
    resume_to_reference(box, out, ref, before)
    return kind


def prepare_race(box: Sandbox, rng: random.Random) -> str:
    """Two `data prepare fsdd-mfcc` into one empty cache at once; one of them with --force sometimes."""
    source = Path(os.environ.get("SSLBENCH_DATA") or Path.home() / ".cache" / "sslbench") / "fsdd-mfcc"
    if not (source / "digits.npz").exists():
        box.problem("fsdd-mfcc is not in the data cache; cannot run the prepare race")
        return "two data prepare (no source)"
    before = snapshot(box.root, skip=[box.data])
    force = ["--force"] if rng.random() < 0.5 else []
    procs = []
    for i in range(2):
        call = Call(["data", "prepare", "fsdd-mfcc", "--path", "$CACHE/fsdd-mfcc", *(force if i else [])])
        box.outcome.calls.append(call)
        cmd = box.command(["data", "prepare", "fsdd-mfcc", "--path", source, *(force if i else [])], plugin=False)
        procs.append((subprocess.Popen(cmd, cwd=box.cwd, env=box.env(), stdout=subprocess.DEVNULL,
                                       stderr=subprocess.PIPE, text=True), call))
        time.sleep(rng.uniform(0, 0.5))
    for proc, call in procs:
        box.finish(proc, call)
        expect_exit(box, call, [0], "concurrent data prepare")
    check = box.run(["data", "list", "--verify", "--json"], plugin=False)
    expect_exit(box, check, [0], "data list --verify after the race")
    if check.rc == 0:
        listed = {d["name"]: d for d in json.loads(check.stdout)["datasets"]}
        state = listed["fsdd-mfcc"]["cache"]
        if state != PREPARED_STATE:
            box.problem(f"(c) after two concurrent prepares the cache says {state!r}")
    leftovers = [p.name for p in box.data.rglob("*") if p.name.endswith(".tmp") or "staging" in p.name]
    if leftovers:
        box.problem(f"(e) left in the cache: {leftovers[:5]}")
    expect_outside_unchanged(box, before, [box.data])
    return f"two data prepare{' (one --force)' if force else ''}"


def bad_config(rng: random.Random, index: int) -> tuple[str, str, str]:
    """(name, config text, what the one line must say) of a config with one mistake."""
    base = CONFIG.format(suite="faults", seeds="[0, 1]", steps=10, every=0, model="mlp")
    value = rng.choice(["nan", "+nan", "-nan", "inf", "-inf", "+inf", "1e309", "-1e309", "1e400"])
    cases = [
        ("float run.lr", base.replace("lr = 0.003", f"lr = {value}"), "finite"),
        ("float run.weight_decay", base.replace("lr = 0.003", f"lr = 0.003\nweight_decay = {value}"), "finite"),
        ("float task option", base.replace("projection_dim = 8", f"projection_dim = 8\ntemperature = {value}"),
         "finite"),
        ("float modality option", base + f"[modalities.vector]\nnoise = {value}\n", "finite"),
        ("float run.seconds", base.replace("steps = 10", f"seconds = {value}"), "finite"),
        ("float run.flops", base.replace("steps = 10", f"flops = {value}"), "finite"),
        ("float grid.run", base.replace("[datasets.blobs]", f"[grid.run]\nlr = {value}\n[datasets.blobs]"), "finite"),
        ("seed >= 2**32", base.replace("seeds = [0, 1]", f"seeds = [0, {2**32 + rng.randrange(2**40)}]"), "seeds"),
        ("seed < 0", base.replace("seeds = [0, 1]", f"seeds = [{-rng.randint(1, 2**63)}]"), "seeds"),
        ("seed 2**64", base.replace("seeds = [0, 1]", "seeds = [18446744073709551616]"), "seeds"),
        ("huge hidden_dim", base.replace("hidden_dim = 16", f"hidden_dim = {2**16 + rng.randrange(2**40)}"),
         "hidden_dim"),
        ("huge projection_dim", base.replace("projection_dim = 8", f"projection_dim = {10**rng.randint(6, 30)}"),
         "projection_dim"),
        ("huge steps", base.replace("steps = 10", f"steps = {10**9 + rng.randrange(10**15)}"), "steps"),
        ("huge batch_size", base.replace("batch_size = 16", f"batch_size = {2**20 + 1 + rng.randrange(2**40)}"),
         "batch_size"),
        ("huge seconds", base.replace("steps = 10", f"seconds = {10**7 + 1 + rng.randrange(10**12)}"), "seconds"),
        ("deep array", base.replace("[grid]", "deep = " + "[" * (d := rng.randint(200, 50000)) + "]" * d + "\n[grid]"),
         "nested too deeply"),
        ("deep inline table", base.replace("[grid]", "deep = " + "{a = " * (d := rng.randint(200, 20000)) + "1"
                                           + "}" * d + "\n[grid]"), "nested too deeply"),
        ("deep dotted key", base + "[modalities.vector]\n" + ".".join(["k"] * rng.randint(200, 5000)) + " = 1\n", ""),
        ("unknown key", base.replace("lr = 0.003", "lr = 0.003\nlearning_rate = 0.1"), "learning_rate"),
        ("wrong type", base.replace("steps = 10", 'steps = "ten"'), "steps"),
        ("TOML syntax", base.replace("[grid]", "[grid"), ""),
        ("not UTF-8", base.replace("faults", "fa\udcffults"), ""),
        ("binary garbage", "", ""),
        ("empty config", "", ""),
    ]
    name, text, match = cases[index % len(cases)]
    if name == "binary garbage":
        text = rng.randbytes(rng.randint(1, 400)).decode("latin-1")
    return name, text, match


def bad_input_trial(box: Sandbox, rng: random.Random, refs: dict[str, Reference], index: int) -> str:
    """A config or command-line mistake: exit 2, one line, nothing written."""
    out = box.root / "out"
    cli_cases = ["-p missing module", "-p module raises", "-p module does not parse", "-p module's import fails",
                 "--seeds 2**32", "--shard 3/2", "--seeds x", "--nproc 0", "config missing", "config is a folder",
                 "out is a file", "out under a file"]
    configs = 24
    pick = index % (configs + len(cli_cases))
    if pick < configs:
        name, text, match = bad_config(rng, pick)
        path = box.inputs / "bad.toml"
        path.write_bytes(text.encode("utf-8", "surrogateescape") if name != "binary garbage" else text.encode("latin-1"))
        before = snapshot(box.root)
        expect_usage_error(box, box.run(["run", path, "--out", out]), before, match)
        return name
    kind = cli_cases[pick - configs]
    good = box.config("good.toml", CONFIG.format(suite="faults", seeds="[0]", steps=4, every=0, model="mlp"))
    args, match = bad_cli(box, kind, good, out)
    before = snapshot(box.root)
    expect_usage_error(box, box.run(args), before, match)
    return kind


def bad_cli(box: Sandbox, kind: str, good: Path, out: Path) -> tuple[list[Any], str]:
    """The arguments of a command-line mistake and what its one line must say."""
    sources = {"-p module raises": "raise RuntimeError('boom at import')\n",
               "-p module does not parse": "def broken(:\n",
               "-p module's import fails": "import no_such_module_anywhere_xyz\n"}
    if kind in sources:
        (box.site / "userplugin.py").write_text(sources[kind])
        return ["-p", "userplugin", "run", good, "--out", out], "userplugin"
    if kind == "-p missing module":
        return ["-p", "no_such_plugin_module_xyz", "run", good, "--out", out], "no_such_plugin_module_xyz"
    if kind == "--seeds 2**32":
        return ["run", good, "--out", out, "--seeds", str(2**32)], "seeds"
    if kind == "--shard 3/2":
        return ["run", good, "--out", out, "--shard", "3/2"], "--shard"
    if kind == "--seeds x":
        return ["run", good, "--out", out, "--seeds", "x"], "seeds"
    if kind == "--nproc 0":
        return ["run", good, "--out", out, "--nproc", "0"], "--nproc"
    if kind == "config missing":
        return ["run", box.inputs / "missing.toml", "--out", out], "missing.toml"
    if kind == "config is a folder":
        return ["run", box.inputs, "--out", out], ""
    (box.inputs / "file").write_text("x")
    if kind == "out is a file":
        return ["run", good, "--out", box.inputs / "file"], "a file stands where"
    return ["run", good, "--out", box.inputs / "file" / "sub"], "a file stands where"


LINKS = ["rows.jsonl", "curves.jsonl", "commits.jsonl", "manifest.json", "checkpoints", "locks", "pending",
         "tracebacks"]
SUITES = ["../evil", "/abs/olute", "a/b", "..", ".", "a\\nb", "x" * 101, " lead", "naïve-βeta", "tab\\there",
          "-dash", "ok..dots"]


def hostile_trial(box: Sandbox, rng: random.Random, refs: dict[str, Reference], index: int) -> str:
    """Hostile suite names, planted links, odd --out names, foreign --out folders."""
    kinds = ["suite name", "file name", "link in fresh out", "link in resumed out", "odd out name",
             "foreign out", "foreign out --resume"]
    kind = kinds[index % len(kinds)]
    if kind in ("suite name", "file name"):
        return hostile_name(box, rng, kind)
    if kind.startswith("link"):
        return planted_link(box, rng, refs, kind)
    if kind == "odd out name":
        ref = refs[rng.choice(sorted(refs))]
        name = rng.choice(["out dir\nwith newline", "ünïcødé ☃ out", "-dash", " lead space", "a:b;c|d", "x" * 200])
        out = box.root / name
        before = snapshot(box.root)
        call = box.run(["run", ref.config, "--out", out, "-q"])
        expect_exit(box, call, [0], "a legitimate odd --out name")
        if call.rc == 0:
            expect_reference(box, out, ref)
        expect_outside_unchanged(box, before, [out])
        return f"odd out name {name[:20]!r}"
    out = box.root / "out"
    out.mkdir()
    (out / rng.choice(["notes.txt", "data.csv", ".hidden", "rows.jsonl.bak"])).write_text("mine")
    ref = refs[rng.choice(sorted(refs))]
    before = snapshot(box.root)
    call = box.run(["run", ref.config, "--out", out, *(["--resume"] if kind.endswith("--resume") else [])])
    expect_usage_error(box, call, before, "is not empty")
    return kind


def hostile_name(box: Sandbox, rng: random.Random, kind: str) -> str:
    """A suite name (or a config file name standing for one) that is no plain name: refused."""
    if kind == "suite name":
        suite = rng.choice(SUITES)
        path = box.config("cfg.toml", CONFIG.format(suite=suite, seeds="[0]", steps=4, every=0, model="mlp"))
        before = snapshot(box.root)
        call = box.run(["run", path])  # no --out: the default folder is runs/<suite>-<time>
        expect_usage_error(box, call, before, "suite")
        return f"suite {suite[:20]!r}"
    name = rng.choice(["..", "a b", "x\ny", "ünï☃", ".hidden", "-x"])
    text = CONFIG.format(suite="faults", seeds="[0]", steps=4, every=0, model="mlp").replace('suite = "faults"\n', "")
    path = box.config(f"{name}.toml", text)
    before = snapshot(box.root)
    call = box.run(["run", path])
    expect_usage_error(box, call, before, "suite")
    return f"file name {name!r}"


def planted_link(box: Sandbox, rng: random.Random, refs: dict[str, Reference], kind: str) -> str:
    """A symbolic link where sslbench keeps a file or folder: refused, never written through."""
    ref = refs[rng.choice(sorted(refs))]
    out, entry = box.root / "out", rng.choice(LINKS)
    target = box.outside / ("precious.txt" if entry.endswith((".jsonl", ".json")) else "dir")
    if target.name == "dir":
        target.mkdir(exist_ok=True)
        (target / "inside.txt").write_text("keep\n")
    config, plugin, resume, match = ref.config, [], ["--resume"], "symbolic link"
    if entry == "tracebacks":  # a cell must fail for anything to go there
        config = box.config("broken.toml", CONFIG.format(suite="faults", seeds="[0]", steps=4, every=0,
                                                         model="broken"))
        plugin = ["-p", "broken_plugin"]
    if kind == "link in fresh out":
        out.mkdir()
        resume, match = ([] if rng.random() < 0.5 else ["--resume"]), ""  # refused as a link or as foreign
    elif entry == "tracebacks":
        box.run([*plugin, "run", config, "--out", out, "-q"])  # its cell fails: exit 1, a traceback stored
        (out / "rows.jsonl").write_text("")  # the cell runs again on --resume
        shutil.rmtree(out / "tracebacks", ignore_errors=True)
    else:
        copy_reference(box, ref, out)
        drop_last_cell(out, rng)
        victim = out / entry
        shutil.rmtree(victim) if victim.is_dir() else victim.unlink(missing_ok=True)
    (out / entry).symlink_to(target)
    before = snapshot(box.root)
    call = box.run([*plugin, "run", config, "--out", out, "-q", *resume])
    expect_usage_error(box, call, before, match)
    return f"{kind}: {entry}"


def disk_trial(box: Sandbox, rng: random.Random, refs: dict[str, Reference], index: int) -> str:
    """ENOSPC/EDQUOT/EIO on a write or fsync under --out after N bytes; then room is made and --resume finishes."""
    ref = refs[rng.choice(sorted(refs))]
    out, before = box.root / "out", snapshot(box.root)
    failures = 2 if rng.random() < 0.3 else 1
    kinds = []
    for attempt in range(failures):
        errno_name = rng.choice(["ENOSPC", "ENOSPC", "EDQUOT", "EIO", "EFBIG"])
        op = rng.choice(["write", "write", "fsync"])
        match = rng.choice(["", "", "rows.jsonl", "curves.jsonl", "commits.jsonl", "pending", "checkpoints",
                            "manifest.json"])
        after = rng.randint(0, ref.bytes) if not match else rng.randint(0, 6000)
        kinds.append(f"{errno_name} on {op} of {match or 'any file'} after {after} B")
        env = {"SSLBENCH_FAULT_OUT": str(out), "SSLBENCH_FAULT_AFTER": str(after), "SSLBENCH_FAULT_ERRNO": errno_name,
               "SSLBENCH_FAULT_OP": op, "SSLBENCH_FAULT_MATCH": match}
        call = box.run(["run", ref.config, "--out", out, "-q", *(["--resume"] if attempt else [])], env=env)
        expect_exit(box, call, [0, 1], "a full or failing disk")
        lines = [line for line in call.stderr.splitlines() if line.startswith("sslbench: error")]
        if call.rc == 1 and (len(lines) != 1 or "--resume" not in lines[0]):
            box.problem(f"the disk error is not one line pointing at --resume: {lines[:2]}")
    resume_to_reference(box, out, ref, before)
    return "; ".join(kinds)


TRIALS: dict[str, Callable[..., str]] = {
    "kill": lambda box, rng, refs, i: kill_trial(box, rng, refs),
    "signal": lambda box, rng, refs, i: signal_trial(box, rng, refs),
    "corruption": corruption_trial, "concurrency": concurrency_trial, "bad_input": bad_input_trial,
    "hostile": hostile_trial, "disk": disk_trial,
}


# ---------------------------------------------------------------- driver


def make_references(work: Path) -> dict[str, Reference]:
    """One uninterrupted run per config, kept for every trial that compares with it."""
    refs = {}
    for name, settings in CONFIGS.items():
        folder = work / "references"
        folder.mkdir(exist_ok=True)
        config = folder / f"{name}.toml"
        config.write_text(CONFIG.format(suite="faults", model="mlp", **settings))
        out = folder / f"out-{name}"
        box = Sandbox(work / f"reference-{name}", Outcome(-1, "reference", name), disk_faults=True)
        count = box.root / "bytes"
        env = {"SSLBENCH_FAULT_OUT": str(out), "SSLBENCH_FAULT_AFTER": str(2**62), "SSLBENCH_FAULT_COUNT_TO": str(count)}
        start = time.monotonic()
        call = box.run(["run", config, "--out", out, "-q"], env=env)
        if call.rc != 0:
            raise SystemExit(f"the reference run of config {name} failed (exit {call.rc}):\n{call.stderr}")
        refs[name] = Reference(config, row_map(out), curve_map(out), time.monotonic() - start,
                               int(count.read_text()))
    return refs


def plan(trials: int, seed: int, classes: Sequence[str]) -> list[tuple[int, str, int]]:
    """(trial index, class, index within the class) of a seeded, shuffled pass."""
    weights = {k: CLASS_WEIGHTS[k] for k in classes}
    total = sum(weights.values())
    counts = {k: max(1, round(trials * w / total)) for k, w in weights.items()}
    order = [(k, i) for k, n in counts.items() for i in range(n)]
    random.Random(seed).shuffle(order)
    return [(n, k, i) for n, (k, i) in enumerate(order)]


def run_trial(work: Path, refs: dict[str, Reference], seed: int, index: int, klass: str, within: int) -> Outcome:
    """One trial in its own sandbox; an error of the harness itself counts as a failed trial."""
    outcome = Outcome(index, klass, "")
    rng = random.Random(f"{seed}/{index}")
    start = time.monotonic()
    box = Sandbox(work / f"trial-{index:04d}", outcome, disk_faults=klass == "disk")
    try:
        outcome.kind = TRIALS[klass](box, rng, refs, within)
    except Exception as err:  # noqa: BLE001 - the harness must report, not stop
        outcome.problems.append(f"harness error: {type(err).__name__}: {err}")
    outcome.seconds = time.monotonic() - start
    if outcome.held:
        shutil.rmtree(box.root, ignore_errors=True)
    return outcome


def scrub(text: str, work: Path) -> str:
    """Write this machine's paths as placeholders."""
    for path, name in ((str(work), "$WORK"), (sys.executable, "$PYTHON"), (str(REPO), "$REPO"),
                       (str(Path.home()), "$HOME")):
        text = text.replace(path, name)
    return text


def log_line(outcome: Outcome, work: Path) -> str:
    record = {"trial": outcome.index, "class": outcome.klass, "kind": outcome.kind, "held": outcome.held,
              "problems": outcome.problems, "seconds": round(outcome.seconds, 1),
              "calls": [{"args": c.args, "rc": c.rc, "stderr_tail": c.stderr[-1500:]} for c in outcome.calls]}
    return scrub(json.dumps(record, ensure_ascii=False), work)


def report(outcomes: list[Outcome], args: argparse.Namespace, work: Path, minutes: float) -> str:
    """The markdown of RESULTS.md."""
    classes = sorted({o.klass for o in outcomes}, key=list(CLASS_WEIGHTS).index)
    lines = ["# Fault-injection pass: latest results", "",
             "Generated by `python benchmarks/faults/inject.py` (do not edit by hand; see docs/reliability.md,",
             '"The fault-injection pass").', "",
             (f"- run: {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC, `--trials {args.trials} --seed {args.seed}"
              f"{' --classes ' + args.classes if args.classes else ''}`, {minutes:.1f} min wall time"),
             (f"- trials: {len(outcomes)}, held: {sum(o.held for o in outcomes)}, "
              f"failed: {sum(not o.held for o in outcomes)}"), "",
             "| class | trials | held | failed |", "|---|---:|---:|---:|"]
    for klass in classes:
        mine = [o for o in outcomes if o.klass == klass]
        lines.append(f"| {klass} | {len(mine)} | {sum(o.held for o in mine)} | {sum(not o.held for o in mine)} |")
    failed = [o for o in outcomes if not o.held]
    lines += ["", "## Failures", "", *([] if failed else ["None."])]
    for o in failed:
        last = o.calls[-1] if o.calls else Call([])
        tail = "\n".join(last.stderr.strip().splitlines()[-8:])
        lines += [f"### trial {o.index} ({o.klass}: {o.kind})", "", *(f"- {p}" for p in o.problems), "",
                  "command: `sslbench " + " ".join(a.replace("\n", "\\n") for a in last.args) + "`", "",
                  "stderr tail:", "", "```", tail, "```", ""]
    return scrub("\n".join(lines) + "\n", work)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the pass; exit 1 when a trial failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=sum(CLASS_WEIGHTS.values()), help="how many trials in all")
    parser.add_argument("--seed", type=int, default=0, help="the pass's random seed")
    parser.add_argument("--classes", default="", help=f"comma-separated subset of: {', '.join(CLASS_WEIGHTS)}")
    parser.add_argument("--jobs", type=int, default=2, help="trials run at once")
    parser.add_argument("--results", type=Path, default=HERE / "RESULTS.md", help="the markdown summary")
    parser.add_argument("--log", type=Path, default=HERE / "log.jsonl", help="the JSON-lines log")
    parser.add_argument("--keep", action="store_true", help="keep the sandboxes of failed trials")
    args = parser.parse_args(argv)
    classes = [c for c in args.classes.split(",") if c] or list(CLASS_WEIGHTS)
    unknown = set(classes) - set(CLASS_WEIGHTS)
    if unknown:
        parser.error(f"unknown classes {sorted(unknown)}; choose from {', '.join(CLASS_WEIGHTS)}")
    work = Path(tempfile.mkdtemp(prefix="sslbench-faults-"))
    start = time.monotonic()
    try:
        refs = make_references(work)
        print(f"references: {', '.join(f'{k} {r.seconds:.1f} s, {r.bytes} B' for k, r in refs.items())}", flush=True)
        outcomes = run_all(work, refs, args, classes)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    minutes = (time.monotonic() - start) / 60
    args.results.write_text(report(outcomes, args, work, minutes))
    print(summary_table(outcomes))
    print(f"{minutes:.1f} min; wrote {args.results} and {args.log}")
    return 1 if any(not o.held for o in outcomes) else 0


def run_all(work: Path, refs: dict[str, Reference], args: argparse.Namespace, classes: list[str]) -> list[Outcome]:
    todo = plan(args.trials, args.seed, classes)
    outcomes = []
    with args.log.open("w") as log, concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        futures = [pool.submit(run_trial, work, refs, args.seed, n, k, i) for n, k, i in todo]
        for future in concurrent.futures.as_completed(futures):
            outcome = future.result()
            outcomes.append(outcome)
            log.write(log_line(outcome, work) + "\n")
            log.flush()
            verdict = "held" if outcome.held else "FAILED: " + "; ".join(outcome.problems)[:300]
            print(f"[{len(outcomes)}/{len(todo)}] {outcome.klass} #{outcome.index} {outcome.kind!r} "
                  f"{outcome.seconds:.0f} s {verdict}", flush=True)
    return sorted(outcomes, key=lambda o: o.index)


def summary_table(outcomes: list[Outcome]) -> str:
    rows = [f"{'class':<12} {'trials':>6} {'held':>6} {'failed':>6}"]
    for klass in CLASS_WEIGHTS:
        mine = [o for o in outcomes if o.klass == klass]
        if mine:
            rows.append(f"{klass:<12} {len(mine):>6} {sum(o.held for o in mine):>6} {sum(not o.held for o in mine):>6}")
    rows.append(f"{'all':<12} {len(outcomes):>6} {sum(o.held for o in outcomes):>6} "
                f"{sum(not o.held for o in outcomes):>6}")
    return "\n".join(rows)


if __name__ == "__main__":
    sys.exit(main())
