"""play.py: the CLI's file rules, the person recorder driven through a pipe and a
terminal, and (baseline.py) the baseline of new and old files (the scripted player itself is tested in test_scripted.py)."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import play
from snake_mc.game.datasets import DatasetError, load_dataset
from snake_mc.learn import baseline

ROOT = Path(__file__).resolve().parents[1]


# ----- the command line ------------------------------------------------------------------------------------------


def test_cli_scripted_writes_refuses_overwrite_and_appends(tmp_path, capsys):
    args = ["--scripted", "3", "--grid-size", "6", "--workdir", str(tmp_path)]
    assert play.main(args) == 0
    out = capsys.readouterr().out
    path = tmp_path / "data" / "human_demos.npz"
    data = load_dataset(path)
    assert str(data["source"]) == "scripted" and len(data["episode_scores"]) == 3
    assert "3 scripted games" in out and "human games" not in out and str(path) in out
    before = path.read_bytes()
    assert play.main(args) == 2
    assert "--append" in capsys.readouterr().out and path.read_bytes() == before
    assert play.main([*args, "--append"]) == 0
    joined = load_dataset(path)
    assert len(joined["episode_scores"]) == 6 and str(joined["source"]) == "scripted"
    # appended games continue the seeds, so they are new games rather than copies of the first three
    assert not np.array_equal(joined["food"][joined["episode"] == 3][:5], joined["food"][joined["episode"] == 0][:5])
    assert play.main(["--scripted", "2", "--grid-size", "8", "--workdir", str(tmp_path), "--append"]) == 2
    assert "--grid-size 6" in capsys.readouterr().out
    assert play.main([*args, "--overwrite"]) == 0
    assert len(load_dataset(path)["episode_scores"]) == 3
    with pytest.raises(SystemExit) as exc:
        play.main([*args, "--append", "--overwrite"])
    assert exc.value.code == 2


def _run_person(tmp_path: Path, keys: str, *extra: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, str(ROOT / "play.py"), "--grid-size", "6", "--workdir", str(tmp_path), "--out", "p.npz", *extra]
    return subprocess.run(cmd, input=keys, capture_output=True, text=True, timeout=60, cwd=ROOT)


def _plain_sentences(text: str) -> None:
    assert text.isascii(), "no emoji, box drawing or other decoration"
    assert "\x1b" not in text, "no ANSI escape codes"
    for line in text.splitlines():
        assert line.endswith("."), f"not a whole sentence: {line!r}"


def test_person_recorder_through_a_pipe(tmp_path):
    result = _run_person(tmp_path, "r\nl\ns\nq\n")
    assert result.returncode == 0, result.stderr
    _plain_sentences(result.stdout)
    data = load_dataset(tmp_path / "p.npz")
    assert str(data["source"]) == "human"
    assert data["actions"].tolist() == [2, 0, 1]
    assert "human" in result.stdout and "scripted" not in result.stdout
    first = result.stdout.splitlines()[2]
    assert first.startswith("Game 1 starts. Score 0, heading east, ahead 2 free, left free, right free, food")


def test_person_recorder_compass_keys_death_and_next_game(tmp_path):
    # From (3, 3) heading right on 6 by 6: a (reverse) is refused with a sentence, w turns left (up), d turns right,
    # straight twice reaches the wall and ends game 1; s and l in game 2, then q keeps it unfinished.
    result = _run_person(tmp_path, "a\nw\nd\ns\ns\ns\nl\nq\n")
    assert result.returncode == 0, result.stderr
    _plain_sentences(result.stdout)
    assert "Game 1 over: you hit the wall, score 0." in result.stdout
    assert "Game 2 starts." in result.stdout
    data = load_dataset(tmp_path / "p.npz")
    assert "cannot turn back on itself; it is heading east" in result.stdout
    assert data["actions"].tolist() == [0, 2, 1, 1, 1, 0]
    assert data["episode"].tolist() == [0, 0, 0, 0, 1, 1]
    assert data["episode_scores"].tolist() == [0, 0]
    refused = _run_person(tmp_path, "s\nq\n")
    assert refused.returncode == 2 and "already exists" in refused.stdout


def test_person_recorder_quitting_at_once_writes_nothing(tmp_path):
    result = _run_person(tmp_path, "q\n")
    assert result.returncode == 0 and "Nothing was recorded" in result.stdout
    assert not (tmp_path / "p.npz").exists()


def test_realtime_mode_moves_without_keys(tmp_path):
    cmd = [sys.executable, str(ROOT / "play.py"), "--grid-size", "8", "--workdir", str(tmp_path), "--out", "r.npz"]
    proc = subprocess.Popen([*cmd, "--realtime", "--tick", "0.05"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    seen, deadline = [], time.monotonic() + 60
    while time.monotonic() < deadline:  # wait on the program's own words: a move after the game starts, no key pressed
        line = proc.stdout.readline()
        seen.append(line)
        if not line or (any("Game 1 starts" in s for s in seen[:-1]) and line.strip()):
            break
    rest, _ = proc.communicate("q\n", timeout=30)
    out = "".join(seen) + rest
    assert proc.returncode == 0
    data = load_dataset(tmp_path / "r.npz")
    assert len(data["actions"]) >= 1 and set(data["actions"].tolist()) == {1}
    _plain_sentences(out)


def test_terminal_keys_in_cbreak_mode_and_terminal_restored(tmp_path):
    pty = pytest.importorskip("pty")
    termios = pytest.importorskip("termios")
    master, slave = pty.openpty()
    cmd = [sys.executable, str(ROOT / "play.py"), "--grid-size", "6", "--workdir", str(tmp_path), "--out", "t.npz"]
    proc = subprocess.Popen(cmd, stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    try:
        seen, deadline = b"", time.monotonic() + 30
        while b"Game 1 starts" not in seen and time.monotonic() < deadline:  # the terminal is in cbreak mode by now
            if select.select([proc.stdout], [], [], 0.2)[0]:
                seen += os.read(proc.stdout.fileno(), 4096)
        assert b"Game 1 starts" in seen
        os.write(master, b"\x1b[B")  # down arrow while heading right: a right turn
        while b"heading south" not in seen and time.monotonic() < deadline + 30:  # the move is made: wait on it
            if select.select([proc.stdout], [], [], 0.2)[0]:
                seen += os.read(proc.stdout.fileno(), 4096)
        assert b"heading south" in seen
        os.write(master, b"lq")  # a left turn (heading right again), then save and quit
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
        assert termios.tcgetattr(slave)[3] & termios.ICANON, "the terminal is back in line mode"
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
        os.close(slave)
    assert load_dataset(tmp_path / "t.npz")["actions"].tolist() == [2, 0]


# ----- the baseline ----------------------------------------------------------------------------------------------


def test_human_baseline_on_new_files(tmp_path):
    scripted = play.record_scripted(3, grid_size=6, seed=0)
    path = tmp_path / "s.npz"
    from snake_mc.game.datasets import save_dataset

    save_dataset(path, scripted)
    base = baseline.human_baseline(path)
    assert base.score == pytest.approx(scripted["episode_scores"].mean())
    assert (base.source, base.episodes, base.rough) == ("scripted", 3, False)
    assert "scripted" in base.sentence and "not a person" in base.sentence
    human = dict(scripted, source=np.array("human"))
    save_dataset(path, human)
    assert "human baseline" in baseline.human_baseline(path).sentence


def test_human_baseline_on_an_old_file_is_rough(tmp_path):
    g = 6
    grids = np.zeros((300, g, g), dtype=np.int8)
    lengths = np.r_[np.full(120, 3), np.full(80, 5), np.full(100, 3)]  # a drop in length: a second episode
    for i, n in enumerate(lengths):
        grids[i].flat[:n] = 1
        grids[i].flat[n] = 3
    path = tmp_path / "old.npz"
    np.savez(path, states=grids, actions=np.ones(300, dtype=np.int64))
    base = baseline.human_baseline(path)
    assert base.rough and base.episodes == 2
    assert base.score == pytest.approx(300 / 2 / g)
    assert "rough" in base.sentence
    np.savez(path, states=np.zeros((250, 7), dtype=np.float32), actions=np.ones(250))  # no grid to read lengths from
    base = baseline.human_baseline(path)
    assert base.rough and base.episodes == 2 and base.score == pytest.approx(250 / 2 / 10)


def test_human_baseline_refuses_missing_and_unreadable_files(tmp_path):
    missing = tmp_path / "nope.npz"
    with pytest.raises(DatasetError, match="nope.npz.*play.py"):
        baseline.human_baseline(missing)
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip file")
    with pytest.raises(DatasetError, match="junk.npz"):
        baseline.human_baseline(junk)
