"""The run's memory: the state a rerun continues from (training_logs/run_state.json), the history, and the one
writer of both, `RunRecord.commit`.

`commit` writes the policy the iteration keeps (data/policy_mc.pt), its checkpoint, its history row and the summary
CSV, then the state file last, so an interrupted iteration is simply redone: the state still points at the previous
iteration's artifacts. Nothing else writes those files during a run (restore_policy puts a committed one back).

The rerun rule: the state file wins for what the run has learned about itself (the next iteration, the current K and
H, the low-improvement streak, whether the run's own rule has dropped the demonstrations, the scores and episode
lengths of the current policy and the games they were measured on); every other setting comes from this run's flags,
for this run only (--no-include-human-data leaves the demonstrations out of this command's iterations and is not
saved).
A flag that asks for a different K or H than the saved one is said aloud and left unused (the saved values grew by
the run's own rule); start in a new --workdir to search with other values. A rerun on other evaluation games
(--seed, --fast-eval-episodes, --eval-episodes) measures the current policy on them first, and says so.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import fcntl
import hashlib
import json
import math
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import numpy as np

from snake_mc.common.constants import MAX_GRID, MAX_H, MAX_K, REWARD_PRESETS
from snake_mc.common.storage import (
    NotOurFileError,
    checked_npz,
    copy_atomic,
    open_own,
    write_json_atomic,
    write_text_atomic,
)
from snake_mc.run import history as hist
from snake_mc.run.config import Paths

STATE_VERSION = 1


class RunStateError(ValueError):
    """An unreadable or inconsistent run_state.json; the message names the file and the fix."""


class FolderInUse(RunStateError):
    """Another run holds the work folder (its log is that run's, so the refusal is not written there)."""


@dataclass
class RunState:
    """What a run has learned about itself, saved by every commit. The first fields come from the configuration when
    the run starts (begin.start_record) and have no defaults; the rest start empty."""

    next_iteration: int
    mc_K: int
    mc_H: int
    grid_size: int
    reward: str
    human_baseline: float
    low_improvement_streak: int = 0
    use_human_data: bool = True
    archived_mc_files: list[str] = field(default_factory=list)  # relative to the workdir, oldest first
    fast_scores: list[int] = field(default_factory=list)  # the current policy's scores on the fast-eval games
    full_scores: list[int] = field(default_factory=list)  # its scores on the full-eval games ([] = not yet measured)
    # Its episode lengths in moves on the same games, game by game, for the speed comparison (moves per apple on the
    # boards both policies filled); [] in a state written before they were saved: that speed is then unknown.
    fast_lengths: list[int] = field(default_factory=list)
    full_lengths: list[int] = field(default_factory=list)
    # The seed of the first game both score lists were measured on (None: not recorded, as in older runs); the game
    # counts are the lists' lengths. A rerun on other games measures the current policy on its own games first.
    eval_seed: int | None = None
    policy_sha256: str = ""  # of data/policy_mc.pt as accepted at the end of the last completed iteration
    elapsed_minutes: float = 0.0
    version: int = STATE_VERSION

    def save(self, path: str | os.PathLike) -> None:
        write_json_atomic(path, dataclasses.asdict(self))

    @classmethod
    def load(cls, path: str | os.PathLike) -> RunState:
        path = Path(path)
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise RunStateError(
                f"{path} cannot be read ({type(exc).__name__}); to start afresh without losing anything, use another "
                "--workdir, or move the whole training_logs folder aside (not this file alone)."
            ) from None
        known = {f.name for f in dataclasses.fields(cls)}
        required = {f.name for f in dataclasses.fields(cls) if f.default is dataclasses.MISSING
                    and f.default_factory is dataclasses.MISSING}
        if (not isinstance(raw, dict) or raw.get("version") != STATE_VERSION or set(raw) - known
                or required - set(raw)):
            raise RunStateError(f"{path} is not a run state this version understands; to start afresh, use another "
                                "--workdir, or move the whole training_logs folder aside (not this file alone).")
        state = cls(**raw)
        problem = _field_problem(state)
        if problem:
            raise RunStateError(f"{path} is damaged: {problem}. To start afresh without losing anything, use another "
                                "--workdir, or move the whole training_logs folder aside (not this file alone).")
        return state


_ARCHIVE = re.compile(r"training_logs/mc_demos/iter_\d+\.npz")


def _whole(value: object, low: int, high: int = 2**31 - 1) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _field_problem(state: RunState) -> str | None:
    """The first field of a loaded state that a run could not safely continue from, as a clause; None when sound.
    The state feeds the search's budget and the paths read back, so each value is checked for type and range."""
    for name, low, high in (("next_iteration", 1, 10**6), ("mc_K", 1, MAX_K), ("mc_H", 1, MAX_H),
                            ("low_improvement_streak", 0, 10**6), ("grid_size", 4, MAX_GRID)):  # fmt: skip
        if not _whole(getattr(state, name), low, high):
            return f"{name} is {getattr(state, name)!r}, not a whole number from {low} to {high:,}"
    if state.eval_seed is not None and not _whole(state.eval_seed, 0, 2**63 - 1):
        return f"eval_seed is {state.eval_seed!r}, not a whole number of 0 or more"
    if not isinstance(state.use_human_data, bool):
        return f"use_human_data is {state.use_human_data!r}, not true or false"
    for name in ("fast_scores", "full_scores"):
        scores = getattr(state, name)
        if not isinstance(scores, list) or not all(_number(x) and 0 <= x <= state.grid_size**2 for x in scores):
            return f"{name} is not a list of scores from 0 to {state.grid_size**2}"
    for name, scores in (("fast_lengths", state.fast_scores), ("full_lengths", state.full_scores)):
        lengths = getattr(state, name)
        sound = isinstance(lengths, list) and all(_whole(x, 0, 2**62) for x in lengths)
        if not sound or len(lengths) not in (0, len(scores)):  # none (an older state), or one per game
            return f"{name} is not a list of move counts, one for each score beside it"
    if not isinstance(state.archived_mc_files, list) or not all(
        isinstance(f, str) and _ARCHIVE.fullmatch(f) for f in state.archived_mc_files
    ):
        return "archived_mc_files names files outside training_logs/mc_demos"
    if not (isinstance(state.policy_sha256, str) and re.fullmatch(r"[0-9a-f]{64}|", state.policy_sha256)):
        return "policy_sha256 is not a SHA-256 digest"
    if not (_number(state.elapsed_minutes) and state.elapsed_minutes >= 0):
        return f"elapsed_minutes is {state.elapsed_minutes!r}, not a number of minutes"
    if state.reward not in REWARD_PRESETS:
        return f"reward is {state.reward!r}, not one of {', '.join(REWARD_PRESETS)}"
    if not _number(state.human_baseline):
        return f"human_baseline is {state.human_baseline!r}, not a number"
    return None


def file_sha256(path: str | os.PathLike) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


class RunRecord:
    """The state, the history and the per-iteration files of one work folder; `commit` is their only writer."""

    def __init__(self, paths: Paths, state: RunState, history: dict) -> None:
        self.paths, self.state, self.history = paths, state, history

    @classmethod
    def resume(cls, paths: Paths, say: Callable[[str], None] = print) -> RunRecord | None:
        """The record of an earlier run in this folder (history cut to its completed iterations), or None."""
        if not paths.run_state.exists():
            return None
        state = RunState.load(paths.run_state)
        try:
            history = hist.load_history(paths.history)
        except hist.HistoryError as exc:  # the state and checkpoints are what resuming needs; the history is a record
            set_aside(paths.history)
            say(f"The history could not be read ({exc}), so it was set aside and a new one starts at iteration "
                f"{state.next_iteration}. Lost from the record: the scores and decisions of iterations 0 to "
                f"{state.next_iteration - 1} in the history, the summary and the plot; their checkpoints, "
                "training_logs/train.log and training_logs/events.jsonl still hold them, and training resumes unharmed.")
            history = hist.empty_history(state.human_baseline)
        keep = history["iteration"] < state.next_iteration
        history = {k: (v[keep] if k not in hist.SCALAR_FIELDS else v) for k, v in history.items()}
        return cls(paths, state, history)

    def policy_intact(self) -> bool:
        """Whether data/policy_mc.pt is the policy the last completed iteration accepted."""
        return self.paths.mc_policy.exists() and file_sha256(self.paths.mc_policy) == self.state.policy_sha256

    def restore_policy(self) -> None:
        """Put the last completed iteration's policy back in data/policy_mc.pt."""
        copy_atomic(self.paths.iteration_model(self.state.next_iteration - 1), self.paths.mc_policy)

    def commit(self, iteration: int, row: dict, elapsed_minutes: float,
               write_policy: Callable[[Path], None] | None = None, **state_changes: object) -> None:
        """Record a finished iteration: the policy it keeps (`write_policy` writes it to the path it is given; None
        keeps data/policy_mc.pt as it is), its checkpoint, its history row, the summary CSV, then the state file last."""
        p = self.paths
        if write_policy is not None:
            write_policy(p.mc_policy)
        copy_atomic(p.mc_policy, p.iteration_model(iteration))
        self.history = hist.append_iteration(self.history, iteration=iteration, elapsed_minutes=elapsed_minutes, **row)
        hist.save_history(p.history, self.history)
        write_text_atomic(p.summary_csv, hist.summary_csv(self.history))
        for name, value in state_changes.items():
            if not hasattr(self.state, name):
                raise AttributeError(f"The run state has no field {name}.")
            setattr(self.state, name, value)
        self.state.next_iteration = iteration + 1
        self.state.policy_sha256 = file_sha256(p.mc_policy)
        self.state.elapsed_minutes = elapsed_minutes
        self.state.save(p.run_state)


@contextlib.contextmanager
def exclusive_run(paths: Paths) -> Iterator[None]:
    """Hold the work folder for this run: a second run on the same folder is refused instead of mixing with it.

    The lock is the operating system's (flock) on training_logs/run.lock, so it goes away with the process however
    the process ends; the file goes too, removed while still held when the run ends (well, badly or by Ctrl-C). A file
    left by a run that was killed outright names a process that has exited: no one holds it, so the next run takes
    it over. A folder that cannot be written is refused here, before anything in it is touched."""
    handle = _hold_lock(paths)
    try:
        yield
    finally:
        with contextlib.suppress(OSError):  # a folder made read-only meanwhile keeps the file: the next run takes it over
            os.unlink(paths.logs_dir / "run.lock")  # still held: a run opening it now finds it gone (see _hold_lock)
        handle.close()


def _unwritable(paths: Paths) -> str | None:
    """Why the run could not write in its folders, as a clause (the first that cannot be written); None when it can.
    Asked before the lock is touched: a read-only folder holding an earlier run's files is refused with nothing changed."""
    folders = [paths.logs_dir, *(f for f in (paths.data_dir, paths.models_dir, paths.mc_archive_dir) if f.exists())]
    if not paths.data_dir.exists():
        folders.append(paths.workdir)  # where data/ will be made
    for folder in folders:
        if not os.access(folder, os.W_OK | os.X_OK):
            return f"{folder} cannot be written"
    return None


def _unwritable_error(paths: Paths, reason: str) -> RunStateError:
    return RunStateError(f"The work folder {paths.workdir} cannot be used, because {reason}; make it writable, or "
                         "choose another --workdir.")


def _hold_lock(paths: Paths) -> TextIO:
    """The lock file, opened and locked (`exclusive_run`), with this process named in it. A file its holder removed
    between our opening and our locking it is no lock at all: it is opened again, so two runs never share a folder."""
    try:
        paths.logs_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _unwritable_error(paths, f"{exc.filename or paths.logs_dir} cannot be made ({exc.strerror})") from None
    reason = _unwritable(paths)
    if reason:
        raise _unwritable_error(paths, reason)
    lock = paths.logs_dir / "run.lock"
    for _ in range(100):  # each try fails only when a run ends at that very moment
        try:
            handle = open_own(lock, "a+")  # never through a symbolic link
        except NotOurFileError as exc:
            raise RunStateError(f"{exc.filename} cannot be used as the run's lock: {exc.strerror}; remove it and run "
                                "again.") from None
        except OSError as exc:  # a read-only file system, a file this user may not write
            raise _unwritable_error(paths, f"{exc.filename or lock} cannot be written ({exc.strerror})") from None
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise FolderInUse(f"Another training run ({holder}) is using {paths.workdir} right now; wait for it "
                              "to finish, or use another --workdir.") from None
        if _names(lock, handle):
            handle.seek(0)
            handle.truncate()
            started = datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S")
            handle.write(f"process {os.getpid()}, started {started}")
            handle.flush()
            return handle
        handle.close()
    raise FolderInUse(f"Another training run keeps starting and ending in {paths.workdir}; wait for it to finish, or "
                      "use another --workdir.")


def _names(path: Path, handle: TextIO) -> bool:
    """Whether `path` still names the file `handle` has open."""
    try:
        named = os.lstat(path)
    except FileNotFoundError:
        return False
    held = os.fstat(handle.fileno())
    return (named.st_dev, named.st_ino) == (held.st_dev, held.st_ino)


def _same_content(a: Path, b: Path) -> bool:
    """Whether two files hold the same: the same bytes, or .npz files with the same arrays (their zip headers carry
    the time of writing, so the bytes of two equal histories differ)."""
    if a.read_bytes() == b.read_bytes():
        return True
    if a.suffix != ".npz":  # (only histories are set aside: read at most what a history may hold)
        return False
    try:
        with checked_npz(a, hist.MAX_HISTORY_BYTES) as x, checked_npz(b, hist.MAX_HISTORY_BYTES) as y:
            return sorted(x.files) == sorted(y.files) and all(np.array_equal(x[k], y[k]) for k in x.files)
    except Exception:  # an unreadable file is never taken for a copy of another
        return False


def set_aside(path: Path) -> Path | None:
    """Rename a file that must not be overwritten or cannot be used to `<name>.set-aside-<time><suffix>`; never lose
    what it holds. A file holding what an earlier set-aside copy already holds (the same first iteration, written
    again by each run interrupted while committing it) is not kept twice: that copy is returned, so the set-aside
    files do not grow by one with each interruption."""
    if not path.exists():
        return None
    for earlier in sorted(path.parent.glob(f"{path.stem}.set-aside-*{path.suffix}")):
        if _same_content(earlier, path):
            path.unlink()
            return earlier
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.stem}.set-aside-{stamp}{path.suffix}")
    n = 1
    while target.exists():  # two in one second: never replace an earlier one
        n += 1
        target = path.with_name(f"{path.stem}.set-aside-{stamp}-{n}{path.suffix}")
    os.replace(path, target)
    return target
