"""Every command's exit status: 2 and one sentence for bad input (a flag, a missing or damaged file), 1 and one sentence
for a failure (a file that cannot be written, an unexpected error), and a traceback only with --debug.

Failures are made by replacing one step of a command with one that raises, in this process; the damaged-file cases
of the dataset loader are in test_fuzz_datasets.py, and the driver's hung self-play in test_driver.py."""

from __future__ import annotations

import errno
import importlib

import numpy as np
import pytest

from snake_mc.game import datasets
from snake_mc.game.scripted import record_scripted
from snake_mc.learn.network import SnakePolicy, save_policy

G = 6


@pytest.fixture
def files(tmp_path):
    """A small recording and an untrained checkpoint, for the commands that need them."""
    data = record_scripted(2, grid_size=G, seed=0)
    datasets.save_dataset(tmp_path / "data" / "human_demos.npz", data)
    save_policy(SnakePolicy(G, hidden=8, layers=1), tmp_path / "policy.pt")
    return tmp_path


def _status(command: str, argv: list[str]) -> int:
    module = importlib.import_module(command)
    try:
        return module.main(argv)
    except SystemExit as exc:  # argparse refuses a flag by exiting 2
        return exc.code


def _one_sentence(capsys) -> str:
    captured = capsys.readouterr()
    text = captured.out + captured.err
    assert "Traceback" not in text, text
    last = text.strip().splitlines()[-1]
    assert last.endswith(".") and last.isascii(), last
    return last


BAD_INPUT = [
    ("train_imitation", ["--epochs", "-1"], "--epochs"),
    ("train_imitation", ["--threads", "0"], "--threads"),
    ("train_imitation", ["--demos", "{tmp}/none.npz"], "none.npz"),
    ("evaluate", ["{tmp}/policy.pt", "--episodes", "0"], "--episodes"),
    ("evaluate", ["{tmp}/none.pt"], "none.pt"),
    ("evaluate", ["{tmp}/data/human_demos.npz"], "human_demos.npz"),  # not a checkpoint
    ("play", ["--scripted", "1", "--grid-size", "3", "--workdir", "{tmp}"], "--grid-size"),
    ("play", ["--scripted", "1", "--grid-size", str(G), "--workdir", "{tmp}", "--out", "data/human_demos.npz"],
     "--append"),  # the file exists: refused rather than overwritten
    ("visualize_training", ["--workdir", "{tmp}"], "training_history.npz"),
    ("video_recorder", ["{tmp}/none.pt"], "none.pt"),
    ("video_recorder", ["{tmp}/policy.pt", "--fps", "0"], "--fps"),
    ("iterative_train", ["--workdir", "{tmp}", "--mc-worker-timeout", "0"], "--mc-worker-timeout"),
    ("iterative_train", ["--workdir", "{tmp}/data/human_demos.npz/x"], "--workdir"),  # a folder inside a file
]  # fmt: skip


@pytest.mark.parametrize(("command", "argv", "named"), BAD_INPUT, ids=[f"{c}-{n}" for c, _, n in BAD_INPUT])
def test_bad_input_exits_2_with_one_sentence_naming_it(files, capsys, command, argv, named):
    argv = [a.replace("{tmp}", str(files)) for a in argv]
    assert _status(command, argv) == 2
    assert named in _one_sentence(capsys)


def _raise(exc: BaseException):
    def fail(*args, **kwargs):
        raise exc

    return fail


DISK_FULL = OSError(errno.ENOSPC, "No space left on device", "out.file")
SURPRISE = RuntimeError("something no one expected")
FAILURES = [
    # (command, argv, the step replaced, what it raises, a word the sentence must say)
    ("train_imitation", ["--workdir", "{tmp}", "--epochs", "1", "--hidden", "8", "--layers", "1"],
     "snake_mc.learn.network:save_policy", DISK_FULL, "the disk is full"),
    ("train_imitation", ["--workdir", "{tmp}"], "snake_mc.learn.learning:train_imitation", SURPRISE, "RuntimeError"),
    ("evaluate", ["{tmp}/policy.pt", "--episodes", "2"], "evaluate_policy", SURPRISE, "RuntimeError"),
    ("play", ["--scripted", "1", "--grid-size", str(G), "--workdir", "{tmp}", "--out", "new.npz"], "save_dataset",
     DISK_FULL, "the disk is full"),
    ("play", ["--scripted", "1", "--grid-size", str(G), "--workdir", "{tmp}", "--out", "new.npz"], "record_scripted",
     SURPRISE,
     "RuntimeError"),
    ("visualize_training", ["--workdir", "{tmp}"], "plot_history", OSError(errno.EACCES, "Permission denied", "p.png"),
     "Permission denied"),
    ("video_recorder", ["{tmp}/policy.pt", "--episodes", "1", "--out", "{tmp}/v.gif"],
     "snake_mc.run.video:record_best_episode", SURPRISE,
     "RuntimeError"),
    ("iterative_train", ["--workdir", "{tmp}", "--grid-size", str(G), "--progress", "off"],
     "snake_mc.run.begin:ensure_prerequisites", DISK_FULL, "the disk is full"),
    ("iterative_train", ["--workdir", "{tmp}", "--grid-size", str(G), "--progress", "off"],
     "snake_mc.run.begin:ensure_prerequisites", SURPRISE, "RuntimeError"),
]  # fmt: skip


@pytest.mark.parametrize(("command", "argv", "step", "exc", "said"), FAILURES,
                         ids=[f"{c}-{s}-{type(e).__name__}" for c, _, s, e, _ in FAILURES])  # fmt: skip
def test_a_failure_exits_1_with_one_sentence_and_a_traceback_only_for_the_unexpected_with_debug(
    files, capsys, monkeypatch, command, argv, step, exc, said
):
    where, _, name = step.rpartition(":")  # "package.module:name" for a step a command imports when it runs
    monkeypatch.setattr(importlib.import_module(where or command), name, _raise(exc))
    argv = [a.replace("{tmp}", str(files)) for a in argv]
    assert _status(command, argv) == 1
    assert said in _one_sentence(capsys)
    if exc is SURPRISE:
        with pytest.raises(RuntimeError):
            _status(command, [*argv, "--debug"])
    else:  # a full disk is said in full, --debug or not
        assert _status(command, [*argv, "--debug"]) == 1
        assert said in _one_sentence(capsys)


def test_a_failing_play_leaves_the_recording_it_would_have_replaced(files, monkeypatch, capsys):
    import play

    path = files / "data" / "human_demos.npz"
    before = path.read_bytes()
    monkeypatch.setattr(play, "save_dataset", _raise(DISK_FULL))
    argv = ["--scripted", "1", "--grid-size", str(G), "--workdir", str(files), "--append"]
    assert _status("play", argv) == 1
    assert path.read_bytes() == before
    assert np.array_equal(datasets.load_dataset(path)["actions"], record_scripted(2, grid_size=G, seed=0)["actions"])


@pytest.mark.parametrize("threads", [1, 2])
def test_imitation_training_runs_on_the_torch_threads_asked_for(files, monkeypatch, capsys, threads):
    """One torch thread by default: beside busy programs two trained three times slower (docs/experiments.md)."""
    import torch

    from snake_mc.learn import learning

    seen = []
    real = learning.train_imitation

    def spy(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return real(*args, **kwargs)

    before = torch.get_num_threads()
    monkeypatch.setattr(learning, "train_imitation", spy)
    extra = [] if threads == 1 else ["--threads", str(threads)]
    try:
        argv = ["--workdir", str(files), "--epochs", "1", "--hidden", "8", "--layers", "1", "--quiet", *extra]
        assert _status("train_imitation", argv) == 0
    finally:
        torch.set_num_threads(before)
    assert seen == [threads]
    said = capsys.readouterr().out.strip().splitlines()
    assert len(said) == 1 and said[0].startswith("Saved the imitation policy"), said  # --quiet: the result alone


def test_a_signal_that_arrives_inside_compiled_code_is_a_stop_not_a_failure(files, monkeypatch, capsys):
    """numba turns an interrupt raised while it returns into a SystemError whose cause is the interrupt."""
    from snake_mc.learn import learning

    def interrupted_inside_numba(*args, **kwargs):
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as stop:
            raise SystemError("CPUDispatcher(<function _encode_games>) returned a result with an exception set") from stop

    monkeypatch.setattr(learning, "train_imitation", interrupted_inside_numba)
    assert _status("train_imitation", ["--workdir", str(files)]) == 130
    assert "was interrupted" in _one_sentence(capsys)


def test_the_driver_takes_an_interrupt_inside_compiled_code_for_a_stop(files, monkeypatch, capsys):
    import iterative_train

    def interrupted_inside_numba(*args, **kwargs):
        try:
            raise iterative_train.Stopped(15)
        except KeyboardInterrupt as stop:
            raise SystemError("returned a result with an exception set") from stop

    import snake_mc.run.begin

    monkeypatch.setattr(snake_mc.run.begin, "ensure_prerequisites", interrupted_inside_numba)
    argv = ["--workdir", str(files), "--grid-size", str(G), "--progress", "off"]
    assert _status("iterative_train", argv) == 143
    assert "Training was stopped by a signal" in _one_sentence(capsys)


ABBREVIATED = [
    ("evaluate", ["{tmp}/policy.pt", "--episode", "5"], "--episodes"),
    ("iterative_train", ["--iteration", "5"], "--iterations"),
    ("train_imitation", ["--work", "{tmp}"], "--workdir"),
    ("train_imitation", ["--xyz", "{tmp}"], None),  # like no flag: refused, no guess
    ("train_imitation", ["--workdi", "{tmp}"], "--workdir"),
    ("play", ["--scripte", "1"], "--scripted"),
    ("video_recorder", ["{tmp}/policy.pt", "--episode", "1"], "--episodes"),
    ("visualize_training", ["--workdi", "{tmp}"], "--workdir"),
]


@pytest.mark.parametrize(("command", "argv", "meant"), ABBREVIATED, ids=[f"{c}{a[-2]}" for c, a, _ in ABBREVIATED])
def test_no_command_takes_an_abbreviated_flag_and_a_near_miss_gets_a_guess(files, capsys, command, argv, meant):
    argv = [a.replace("{tmp}", str(files)) for a in argv]
    assert _status(command, argv) == 2
    line = _one_sentence(capsys)
    assert line.startswith("Unrecognized arguments: ") and "--help" in line, line
    assert (f"did you mean {meant}?" in line) if meant else ("did you mean" not in line), line
