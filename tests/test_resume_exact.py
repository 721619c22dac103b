"""Resume exactness (issue 26): a run interrupted inside its commit, or between iterations, and run again ends with
the same artifacts as a run of the same seed that was never interrupted.

Self-play, training and evaluation are the driver tests' stubs, made a pure function of what they are given: a trained
policy's weights and tag follow from the policy it was trained from and the training seed, so a resumed run that
trained from another policy, or decided with another streak, ends with different files.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from test_driver import G, _run
from test_driver import world as world  # noqa: F401, PLC0414  (the fixture the driver tests share)

from snake_mc.game import datasets
from snake_mc.learn.network import SnakePolicy, load_policy
from snake_mc.run import phases, run_state
from snake_mc.run.config import TrainConfig
from snake_mc.run.history import load_history

ITERATIONS = "3"
# Each iteration's trained policy scores this (fast and full games alike): 1 and 2 gain less than the default
# threshold of 0.5, so with --mc-adapt-patience 2 the search grows after iteration 2; 3 gains a full apple.
SCORE_AFTER = {1: 2.1, 2: 2.2, 3: 3.2}
FLAGS = ("--iterations", ITERATIONS, "--mc-adapt-patience", "2", "--mc-reuse-iters", "2")


@pytest.fixture
def pure_world(world, monkeypatch):  # noqa: F811 - the shared fixture, extended
    """The driver tests' world with a training stub that depends only on its inputs: the new policy's weights are
    drawn from the training seed, and its tag is the parent's tag followed by that seed."""

    def trained_from(policy, human, mc, include_human_data=True, seed=0, **kw):
        torch.manual_seed(seed * 1_000_003 + len(policy.meta.get("tag", "")))
        new = SnakePolicy(G, hidden=8, layers=1)
        new.meta = {"tag": f"{policy.meta.get('tag', '')}>{seed}"}
        world.scores[new.meta["tag"]] = SCORE_AFTER[seed]  # --seed 0: the training seed is the iteration
        world.train_calls.append(include_human_data)
        return new, type("R", (), {"sentence": lambda self: "Stub training finished.", "val_accuracy": 0.5})()

    monkeypatch.setattr(phases, "train_mc", trained_from)
    return world


def _plain(values: object) -> list:
    """An array as a list in which NaN equals NaN (a history row that has no comparison holds NaN)."""
    return [("nan" if isinstance(v, float) and v != v else v) for v in np.asarray(values).ravel().tolist()]


def _artifacts(workdir: Path) -> dict:
    """Everything a run leaves that a resumed run must reproduce; what differs by nature (wall-clock minutes, the
    checkpoints' creation times and so their hashes) is left out."""
    logs = workdir / "training_logs"
    history = load_history(logs / "training_history.npz")
    state = json.loads((logs / "run_state.json").read_text())
    found = {
        "history": {k: _plain(v) for k, v in history.items() if k != "elapsed_minutes"},
        "state": {k: v for k, v in state.items() if k not in ("elapsed_minutes", "policy_sha256")},
    }
    for path in [workdir / "data/policy_mc.pt", *sorted((logs / "models").glob("*.pt"))]:
        policy = load_policy(path)
        found[path.name] = (policy.meta.get("tag"), {k: _plain(v) for k, v in policy.state_dict().items()})
    for path in [workdir / "data/mc_demos.npz", *sorted((logs / "mc_demos").glob("*.npz"))]:
        data = datasets.load_dataset(path, grid_size=G)
        found[path.name] = {k: _plain(v) for k, v in data.items()}
    return found


def _uninterrupted(tmp_path_factory, world_dir: Path) -> Path:
    """The same run never interrupted, in a copy of the starting folder."""
    import shutil

    other = tmp_path_factory.mktemp("uninterrupted")
    shutil.copytree(world_dir / "data", other / "data")
    return other


def _stop_inside_the_commit_of(iteration: int, monkeypatch) -> None:
    """Stop the run after its commit wrote the kept policy to data/policy_mc.pt and before anything else."""
    real = run_state.copy_atomic

    def copy_then_maybe_stop(source, target):
        if Path(target).name == f"policy_iter_{iteration}_mc.pt":
            monkeypatch.setattr(run_state, "copy_atomic", real)
            raise KeyboardInterrupt
        return real(source, target)

    monkeypatch.setattr(run_state, "copy_atomic", copy_then_maybe_stop)


def test_a_run_stopped_inside_a_commit_and_between_iterations_resumes_to_the_uninterrupted_runs_files(
        pure_world, tmp_path_factory, monkeypatch):
    world = pure_world  # noqa: F811
    reference = _uninterrupted(tmp_path_factory, world.workdir)
    start = world.workdir

    world.workdir = reference
    assert _run(world, *FLAGS) == 0
    expected = _artifacts(reference)
    grown = TrainConfig().mc_K + TrainConfig().mc_K_step
    assert expected["state"]["mc_K"] == grown and expected["state"]["low_improvement_streak"] == 0, "the search grew"
    assert expected["policy_mc.pt"][0] == "imitation>1>2>3", "every iteration was kept"

    world.workdir = start
    assert _run(world, "--iterations", "1", *FLAGS[2:]) == 0  # stopped at an iteration boundary, streak 1
    _stop_inside_the_commit_of(2, monkeypatch)
    assert _run(world, *FLAGS) == 130  # iteration 2's policy written, its state not
    assert load_policy(start / "data/policy_mc.pt").meta["tag"] == "imitation>1>2"
    assert json.loads((start / "training_logs/run_state.json").read_text())["next_iteration"] == 2
    assert _run(world, *FLAGS) == 0

    got = _artifacts(start)
    assert got.keys() == expected.keys()
    for name in expected:
        assert got[name] == expected[name], f"{name} differs after the resume"
