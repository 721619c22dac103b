"""A damaged run_state.json is refused in one sentence naming the file, the field and the fix, before a run uses any
of its values: they set the search's budget and the archives read back (issue 12, findings 6 and 7)."""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import json
import os
from pathlib import Path

import pytest

from snake_mc.run.run_state import RunState, RunStateError

SOUND = dataclasses.asdict(RunState(next_iteration=3, mc_K=7, mc_H=30, fast_scores=[4, 9], full_scores=[4, 9, 12],
                                    fast_lengths=[40, 95], full_lengths=[40, 95, 130],
                                    archived_mc_files=["training_logs/mc_demos/iter_1.npz"], policy_sha256="ab" * 32,
                                    elapsed_minutes=2.5, human_baseline=92.8, grid_size=10, reward="default"))  # fmt: skip

DAMAGE = [
    ("next_iteration", "3", "next_iteration"), ("next_iteration", 0, "next_iteration"),
    ("mc_K", -5, "mc_K"), ("mc_K", True, "mc_K"), ("mc_K", 2.5, "mc_K"), ("mc_K", 10**9, "mc_K"),
    ("mc_H", 0, "mc_H"), ("mc_H", None, "mc_H"), ("low_improvement_streak", -1, "low_improvement_streak"),
    ("grid_size", 2, "grid_size"), ("grid_size", 500, "grid_size"),
    ("use_human_data", "yes", "use_human_data"),
    ("fast_scores", [1, -2], "fast_scores"), ("full_scores", "12", "full_scores"), ("full_scores", [float("nan")], "full_scores"),
    ("full_scores", [10**6], "full_scores"),
    ("fast_lengths", [40, -1], "fast_lengths"), ("fast_lengths", [40], "fast_lengths"), ("full_lengths", "40", "full_lengths"),
    ("full_lengths", [40, 95, 1.5], "full_lengths"), ("full_lengths", [40, 95, None], "full_lengths"),
    ("archived_mc_files", ["../../etc/passwd"], "archived_mc_files"),
    ("archived_mc_files", ["/tmp/iter_1.npz"], "archived_mc_files"), ("archived_mc_files", "x", "archived_mc_files"),
    ("policy_sha256", "not a digest", "policy_sha256"), ("policy_sha256", 7, "policy_sha256"),
    ("elapsed_minutes", -1, "elapsed_minutes"), ("elapsed_minutes", "soon", "elapsed_minutes"),
    ("reward", "sparkly", "reward"), ("human_baseline", "high", "human_baseline"),
]  # fmt: skip


def _write(tmp_path: Path, state: object) -> Path:
    path = tmp_path / "run_state.json"
    path.write_text(json.dumps(state))
    return path


def test_a_sound_state_loads(tmp_path: Path) -> None:
    assert dataclasses.asdict(RunState.load(_write(tmp_path, SOUND))) == SOUND


def test_a_state_written_before_the_lengths_were_saved_loads_without_them(tmp_path: Path) -> None:
    """An older run_state.json has no episode lengths: it loads, and the speed comparison is then unknown."""
    older = {name: value for name, value in SOUND.items() if name not in ("fast_lengths", "full_lengths")}
    state = RunState.load(_write(tmp_path, older))
    assert state.fast_lengths == [] and state.full_lengths == [] and state.full_scores == [4, 9, 12]


@pytest.mark.parametrize(("field", "value", "named"), DAMAGE, ids=[f"{f}={v!r}"[:40] for f, v, _ in DAMAGE])
def test_each_damaged_field_is_refused_naming_the_file_and_the_field(tmp_path, field, value, named) -> None:
    path = _write(tmp_path, {**SOUND, field: value})
    with pytest.raises(RunStateError) as info:
        RunState.load(path)
    message = str(info.value)
    assert str(path) in message and named in message and "\n" not in message
    assert "move the whole training_logs folder aside" in message


@pytest.mark.parametrize("text", ["", "{", "[1, 2]", '{"version": 99}', json.dumps({**SOUND, "extra": 1})])
def test_an_unreadable_or_foreign_state_is_refused(tmp_path: Path, text: str) -> None:
    path = tmp_path / "run_state.json"
    path.write_text(text)
    with pytest.raises(RunStateError, match="run_state.json"):
        RunState.load(path)


def test_the_driver_refuses_a_damaged_state_with_exit_2_and_touches_nothing(tmp_path: Path, capsys) -> None:
    import iterative_train
    from snake_mc.game import datasets
    from snake_mc.game.scripted import record_scripted
    from snake_mc.learn.network import SnakePolicy, save_policy

    datasets.save_dataset(tmp_path / "data" / "human_demos.npz", record_scripted(2, grid_size=6, seed=0))
    save_policy(SnakePolicy(6, hidden=8, layers=1), tmp_path / "data" / "policy_imitation.pt")
    logs = tmp_path / "training_logs"
    logs.mkdir()
    state = logs / "run_state.json"
    state.write_text(json.dumps({**SOUND, "grid_size": 6, "archived_mc_files": ["../../../home/user/secret.npz"]}))
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    code = iterative_train.main(["--workdir", str(tmp_path), "--grid-size", "6", "--progress", "off"])
    assert code == 2
    out = capsys.readouterr()
    said = (out.out + out.err).strip().splitlines()
    assert said[-1].startswith("Training stopped: ") and "archived_mc_files" in said[-1] and "Traceback" not in out.err
    assert all(p.read_bytes() == b for p, b in before.items())  # every file as it was (the log and the lock are new)


# ----- the work folder's lock (issue 26, findings 1, 2 and 5) --------------------------------------------------------
def _earlier_run(workdir: Path) -> Path:
    """A work folder an earlier run left: data/ and training_logs/ with their files (a stale lock among them)."""
    (workdir / "data").mkdir(parents=True)
    (workdir / "data" / "human_demos.npz").write_bytes(b"an earlier run's demonstrations")
    logs = workdir / "training_logs"
    logs.mkdir()
    (logs / "run_state.json").write_text(json.dumps(SOUND))
    (logs / "train.log").write_text("An earlier run's log.\n")
    (logs / "run.lock").write_text("process 999999999, started 2020-01-01 00:00:00")
    return workdir


def _contents(folder: Path) -> dict:
    return {p.relative_to(folder): (p.read_bytes() if p.is_file() else "folder") for p in sorted(folder.rglob("*"))}


def _refused_in_one_sentence(workdir: Path, capsys) -> str:
    import iterative_train

    code = iterative_train.main(["--workdir", str(workdir), "--progress", "off"])
    out = capsys.readouterr()
    text = (out.out + out.err).strip()
    assert code == 2 and "Traceback" not in text, text
    assert len(text.splitlines()) == 1, text
    assert str(workdir) in text and "writable" in text and "--workdir" in text and text.endswith("."), text
    return text


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through chmod; the two tests below take the same path")
def test_a_read_only_work_folder_is_refused_in_one_sentence_and_left_as_it_was(tmp_path: Path, capsys) -> None:
    work = _earlier_run(tmp_path / "work")
    before = _contents(work)
    modes = {p: p.stat().st_mode for p in [work, *work.rglob("*")]}
    for path, mode in modes.items():
        path.chmod(mode & ~0o222)
    try:
        _refused_in_one_sentence(work, capsys)
    finally:
        for path, mode in modes.items():
            path.chmod(mode)
    assert _contents(work) == before


def test_a_lock_on_a_read_only_file_system_is_refused_in_one_sentence(tmp_path: Path, capsys, monkeypatch) -> None:
    from snake_mc.run import run_state

    work = _earlier_run(tmp_path / "work")
    before = _contents(work)

    def read_only(path, mode="a"):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))

    monkeypatch.setattr(run_state, "open_own", read_only)
    line = _refused_in_one_sentence(work, capsys)
    assert "Read-only file system" in line
    assert _contents(work) == before


def test_a_folder_this_user_cannot_write_is_refused_before_its_lock_is_touched(tmp_path: Path, capsys,
                                                                               monkeypatch) -> None:
    work = _earlier_run(tmp_path / "work")
    before = _contents(work)
    real = os.access

    def no_writing_here(path, mode, *args, **kwargs):  # what chmod a-w tells anyone but root
        if mode & os.W_OK and Path(path).resolve().is_relative_to(work.resolve()):
            return False
        return real(path, mode, *args, **kwargs)

    monkeypatch.setattr(os, "access", no_writing_here)
    _refused_in_one_sentence(work, capsys)
    assert _contents(work) == before, "the stale lock was not rewritten, nor a log opened"


@pytest.mark.parametrize("ending", [None, KeyboardInterrupt, RuntimeError])
def test_the_lock_is_gone_when_the_run_ends_however_it_ends(tmp_path: Path, ending) -> None:
    from snake_mc.run.config import Paths
    from snake_mc.run.run_state import exclusive_run

    paths = Paths(tmp_path)
    lock = paths.logs_dir / "run.lock"
    with contextlib.ExitStack() as stack:
        if ending is not None:
            stack.enter_context(pytest.raises(ending))
        with exclusive_run(paths):
            assert lock.read_text().startswith(f"process {os.getpid()}, started ")
            if ending is not None:
                raise ending()
    assert not lock.exists()


def test_a_lock_left_by_a_process_that_has_exited_is_taken_over_and_then_removed(tmp_path: Path) -> None:
    from snake_mc.run.config import Paths
    from snake_mc.run.run_state import exclusive_run

    paths = Paths(_earlier_run(tmp_path))
    lock = paths.logs_dir / "run.lock"
    with exclusive_run(paths):
        assert lock.read_text().startswith(f"process {os.getpid()}, started ")
    assert not lock.exists()


def test_a_run_that_opened_the_lock_as_its_holder_removed_it_never_shares_the_folder(tmp_path: Path,
                                                                                      monkeypatch) -> None:
    """The holder removes the lock while it still holds it; a run that opened the file just before then holds a lock
    on a file no path names. It must take the new lock instead, or two runs would share the folder."""
    from snake_mc.run import run_state
    from snake_mc.run.config import Paths

    paths = Paths(tmp_path)
    paths.logs_dir.mkdir()
    lock = paths.logs_dir / "run.lock"
    lock.write_text("process 999999999, started 2020-01-01 00:00:00")
    removed = run_state.open_own(lock, "a+")  # opened just before the holder removed it and ended
    lock.unlink()
    real, first = run_state.open_own, [removed]
    monkeypatch.setattr(run_state, "open_own", lambda path, mode="a": first.pop() if first else real(path, mode))
    try:
        with run_state.exclusive_run(paths):
            assert lock.exists()
            with pytest.raises(run_state.FolderInUse):
                with run_state.exclusive_run(paths):
                    pass
            assert lock.exists(), "a refused run leaves the holder's lock alone"
    finally:
        removed.close()
    assert not lock.exists()


def test_a_state_with_the_largest_k_and_h_the_growth_can_reach_loads(tmp_path: Path) -> None:
    from snake_mc.common.constants import MAX_H, MAX_K

    path = tmp_path / "run_state.json"
    RunState(**{**SOUND, "mc_K": MAX_K, "mc_H": MAX_H}).save(path)
    state = RunState.load(path)
    assert (state.mc_K, state.mc_H) == (10_000, 100_000)
