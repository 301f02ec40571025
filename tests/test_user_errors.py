"""Broken --out folders, planted links, broken plugins, Ctrl-C at start-up: one line, never a traceback."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from test_reliability import TESTS, cli, write_config

from sslbench.cli import main
from sslbench.run import provenance


def run(capsys, *args):
    code = main(["-p", "fake_plugin", *map(str, args)])
    err = capsys.readouterr().err
    return code, [line for line in err.splitlines() if line.startswith("sslbench: error")], err


def one_line_exit_2(capsys, *args, match):
    code, errors, err = run(capsys, *args)
    assert code == 2 and "Traceback" not in err, err
    assert len(errors) == 1 and match in errors[0], err


@pytest.fixture
def config(tmp_path):
    return write_config(tmp_path, steps=5, every=0)


def test_out_is_a_file_or_lies_under_one(tmp_path, config, capsys):
    (tmp_path / "file").write_text("x")
    one_line_exit_2(capsys, "run", config, "--out", tmp_path / "file", match="a file stands where")
    one_line_exit_2(capsys, "run", config, "--out", tmp_path / "file" / "sub", match="a file stands where")


@pytest.mark.parametrize("plant, match", [
    (lambda out: (out / "rows.jsonl").mkdir(), "is not a regular file"),
    (lambda out: (out / "rows.jsonl").write_text("[1, 2]\n"), "not a JSON row (JSON list, not an object)"),
    (lambda out: (out / "manifest.json").write_text("[]"), "holds JSON list, not an sslbench manifest"),
    (lambda out: (out / "locks").write_text(""), "a file stands where sslbench needs a folder"),
    (lambda out: (out / "notes.txt").write_text("mine"), "is not empty and holds no sslbench results"),
])
def test_a_damaged_or_foreign_out_folder(tmp_path, config, capsys, plant, match):
    out = tmp_path / "out"
    out.mkdir()
    plant(out)
    one_line_exit_2(capsys, "run", config, "--out", out, "--resume", match=match)


def test_planted_links_are_never_followed(tmp_path, config, capsys):
    target = tmp_path / "precious.txt"
    target.write_text("keep me\n")
    out = tmp_path / "out"
    out.mkdir()
    (out / f".manifest.json.{os.getpid()}.tmp").symlink_to(target)  # the name this process writes through
    code, _, err = run(capsys, "run", config, "--out", out)
    assert code == 0, err
    (out / "curves.jsonl").unlink()
    (out / "curves.jsonl").symlink_to(target)
    (out / "rows.jsonl").write_text("")  # every cell runs again and would append a curve
    one_line_exit_2(capsys, "run", config, "--out", out, "--resume", match="is a symbolic link")
    assert target.read_text() == "keep me\n"


@pytest.mark.parametrize("source, match", [
    ("raise RuntimeError('boom at import')\n", "importing the plugin module raised RuntimeError: boom at import"),
    ("def broken(:\n", "the plugin module does not parse"),
])
def test_a_plugin_module_that_raises_or_does_not_parse(tmp_path, capsys, monkeypatch, source, match):
    (tmp_path / "badplugin.py").write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path))
    one_line_exit_2(capsys, "list", "-p", "badplugin", match=match)


def test_provenance_reads_git_without_taking_the_index_lock(monkeypatch):
    seen = {}

    def fake_run(cmd, **kwargs):
        seen["cmd"], seen["env"] = cmd, kwargs.get("env") or {}
        return subprocess.CompletedProcess(cmd, 0, stdout="abc\n", stderr="")

    monkeypatch.setattr(provenance.subprocess, "run", fake_run)
    assert provenance.git_revision() == "abc-dirty"  # the fake status answers "abc" too: files differ
    assert "--no-optional-locks" in seen["cmd"] and seen["env"].get("GIT_OPTIONAL_LOCKS") == "0"
    assert "--dirty" not in seen["cmd"]


def test_git_describe_dirty_leaves_no_index_lock(tmp_path):
    """Real git: with an index.lock held by someone else, our describe must neither fail nor touch it."""
    repo = tmp_path / "repo"
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t"}
    subprocess.run(["git", "init", "-q", str(repo)], check=True, env=env)
    (repo / "f").write_text("1")
    subprocess.run(["git", "-C", str(repo), "add", "f"], check=True, env=env)
    subprocess.run(["git", "-C", str(repo), "commit", "-qm", "x"], check=True, env=env)
    os.utime(repo / "f", (1, 1))  # stat info changed: a plain `git describe --dirty` refreshes the index
    index = repo / ".git" / "index"
    before = (index.stat().st_mtime_ns, index.stat().st_ino, index.read_bytes())
    (repo / ".git" / "index.lock").write_text("held")
    revision = provenance.git_revision(repo)  # answered, read-only
    assert revision and not revision.endswith("-dirty")  # same content, only the stat info changed
    assert (repo / ".git" / "index.lock").read_text() == "held"
    (repo / ".git" / "index.lock").unlink()
    provenance.git_revision(repo)
    assert (index.stat().st_mtime_ns, index.stat().st_ino, index.read_bytes()) == before  # the index was not rewritten
    (repo / "f").write_text("2")
    assert provenance.git_revision(repo).endswith("-dirty")


@pytest.mark.parametrize("delay", [0.2, 0.8])
def test_ctrl_c_during_start_up_is_one_line(delay):
    env = {**os.environ, "PYTHONPATH": f"{TESTS}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    proc = subprocess.Popen([sys.executable, "-m", "sslbench", "list"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert "Traceback" not in err
    assert proc.returncode in (0, 130, -signal.SIGINT), err
    if proc.returncode == 130:
        assert err.strip() == "sslbench: interrupted"


def test_a_read_only_out_folder(tmp_path, config, capsys, monkeypatch):
    """Root ignores permission bits, so the read-only file system is simulated: EROFS for files under OUT."""
    import errno

    out = tmp_path / "out"
    out.mkdir()
    real_open = os.open

    def read_only(path, flags, *args, **kwargs):
        if str(path).startswith(str(out)) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", read_only)
    one_line_exit_2(capsys, "run", config, "--out", out, match="cannot write there (Read-only file system)")


@pytest.mark.parametrize("entry, kind", [("locks", "file"), ("locks", "link"), ("checkpoints", "link"),
                                         ("pending", "link"), ("tracebacks", "link"), ("curves.jsonl", "link")])
def test_a_resumed_folder_with_a_wrong_entry_is_refused_before_anything_is_written(tmp_path, config, capsys,
                                                                                   entry, kind):
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    elsewhere.mkdir()
    code, _, err = run(capsys, "run", config, "--out", out)
    assert code == 0, err
    (out / "rows.jsonl").write_text("")  # every cell runs again
    victim = out / entry
    if victim.is_dir():
        import shutil

        shutil.rmtree(victim)
    else:
        victim.unlink(missing_ok=True)
    if kind == "file":
        victim.write_text("")
    else:
        victim.symlink_to(elsewhere if "." not in entry else elsewhere / "x.jsonl")
    manifest = (out / "manifest.json").read_bytes()
    match = "a file stands where" if kind == "file" else "is a symbolic link"
    one_line_exit_2(capsys, "run", config, "--out", out, "--resume", match=match)
    assert (out / "manifest.json").read_bytes() == manifest  # nothing written, not even the manifest
    assert not any(elsewhere.iterdir())


def test_a_refused_run_without_quiet_says_one_line_and_no_plan(tmp_path, config):
    """The plan is printed when the run starts, so a refused --out folder leaves one line on stderr."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    done = cli("run", str(config), "--out", str(out))
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and "is not empty and holds no sslbench results" in done.stderr, done.stderr


@pytest.mark.parametrize("args", [["list", "--json"], ["data", "list", "--json"]])
def test_a_reader_that_goes_away_is_no_traceback(args):
    """`sslbench list --json | head -1`: stdout's pipe closes early; exit 141, nothing on stderr."""
    env = {**os.environ, "PYTHONPATH": f"{TESTS}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    proc = subprocess.Popen([sys.executable, "-m", "sslbench", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    proc.stdout.close()
    _, err = proc.communicate(timeout=120)
    assert "Traceback" not in err and "BrokenPipe" not in err, err
    assert proc.returncode == 141, err


@pytest.mark.parametrize("command", ["leaderboard", "report", "merge"])
def test_a_file_that_is_not_a_rows_file_is_refused_in_one_line(tmp_path, capsys, command):
    text = tmp_path / "notes.txt"
    text.write_text("just some notes\n")
    extra = ["-o", str(tmp_path / "o")] if command != "leaderboard" else []
    one_line_exit_2(capsys, command, text, *extra, match="holds no result row")
    assert not (tmp_path / "o").exists()
