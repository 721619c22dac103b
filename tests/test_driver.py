"""The driver's decisions (with stub evaluations), an end-to-end run, and resume after a SIGKILL."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import iterative_train as it
from snake_mc.common.seeds import Stream, first_game
from snake_mc.game import datasets
from snake_mc.game.rules import SnakeBatch
from snake_mc.learn.network import SnakePolicy, load_policy, save_policy
from snake_mc.run import begin, judging, measure, phases
from snake_mc.run.history import load_history

REPO = Path(__file__).resolve().parents[1]
G = 6
DECISIONS = first_game(Stream.DECISIONS, 0)  # the first game of every evaluation of a run of --seed 0


# ----- the loop with stubs ---------------------------------------------------------------------------------------
def _tiny_demos(grid: int, score: int) -> dict:
    data = datasets.empty_dataset(grid, "scripted")
    batch = SnakeBatch(4, grid, seeds=np.arange(4))
    states = batch.export_states()
    for key in datasets.STATE_KEYS:
        data[key] = states[key]
    data["actions"] = np.ones(4, np.int8)
    data["episode"] = np.array([0, 0, 1, 1], np.int32)
    data["episode_scores"] = np.array([score, score], np.int32)
    return data


@pytest.fixture
def world(tmp_path, monkeypatch):
    """A workdir with demos (baseline 4) and an imitation policy; self-play, training and evaluation stubbed.

    `world.scores[tag]` is the mean score the stub evaluation gives a policy saved with meta tag `tag`; trained policies
    get tag "trained-<n>" in order.
    """
    (tmp_path / "data").mkdir()
    datasets.save_dataset(tmp_path / "data/human_demos.npz", _tiny_demos(G, 4))
    torch_policy = SnakePolicy(G, hidden=8, layers=1)
    save_policy(torch_policy, tmp_path / "data/policy_imitation.pt", tag="imitation")

    class World:
        scores: dict[str, float] = {"imitation": 2.0}
        luck: dict[str, float] = {}  # a policy's own luck per game (0 unless set): paired differences spread
        moves: dict[str, float] = {}  # a policy's moves per apple in every game (10 moves a game unless set)
        calls: list[tuple[str, int, int]] = []  # (tag, episodes, seed) of every evaluation, in order
        trained = 0
        train_calls: list[bool] = []
        mc_sizes: list[int] = []  # the moves of self-play data each training was given
        workdir = tmp_path

    def fake_eval(policy, episodes, seed=0, **kw):
        """Per-game scores that depend on the game's seed: game `seed + i` is as hard for every policy (so only the same
        games cancel it), and a policy with `luck` gains or loses it game by game. Both cancel within each pair of games
        from an even seed, so a mean over an even number of games is exactly the policy's `scores` entry."""
        tag = policy.meta.get("tag", "")
        World.calls.append((tag, episodes, seed))
        game = seed + np.arange(episodes)
        sign = np.where(game % 2 == 0, 1.0, -1.0)  # the two games of a pair
        hardness = 0.5 * (game // 2 * 7919 % 3) * sign
        luck = World.luck.get(tag, 0.0) * sign * np.where(game // 2 % 2 == 0, 1.0, -1.0)
        scores = np.maximum(World.scores.get(tag, 0.0) + hardness + luck, 0.0)
        lengths = np.rint(World.moves[tag] * scores).astype(np.int64) if tag in World.moves else np.full(episodes, 10)
        return {"mean_score": float(scores.mean()), "std_score": float(scores.std()), "max_score": float(scores.max()),
                "mean_length": 10.0, "win_rate": 0.0, "scores": scores, "lengths": lengths, "seconds": 0.0,
                "moves_per_apple": float(lengths.sum() / scores.sum()) if scores.sum() else float("nan")}

    def fake_self_play(policy_path, num_episodes, search, num_workers=1, save_path=None, **kw):
        data = _tiny_demos(G, 1)
        data["source"] = np.array("mc")
        data["action_values"] = np.zeros((4, 3), np.float32)
        return data, {"moves": 4}

    def fake_train(policy, human, mc, include_human_data=True, **kw):
        World.trained += 1
        World.train_calls.append(include_human_data)
        World.mc_sizes.append(datasets.num_samples(mc))
        new = SnakePolicy(G, hidden=8, layers=1)
        new.meta = {"tag": f"trained-{World.trained}"}
        return new, type("R", (), {"sentence": lambda self: "Stub training finished.", "val_accuracy": 0.5})()

    monkeypatch.setattr(measure, "evaluate_policy", fake_eval)
    monkeypatch.setattr(phases, "generate_self_play_data", fake_self_play)
    monkeypatch.setattr(phases, "train_mc", fake_train)
    # save_policy keeps extra meta: make trained checkpoints carry their tag
    real_save = judging.save_policy
    tagged = lambda p, path, **m: real_save(p, path, **{**m, "tag": p.meta.get("tag", "")})  # noqa: E731
    monkeypatch.setattr(judging, "save_policy", tagged)
    monkeypatch.setattr(begin, "save_policy", tagged)
    return World


def _run(world, *extra: str) -> int:
    args = ["--workdir", str(world.workdir), "--grid-size", str(G), "--progress", "off", "--mc-workers", "1",
            "--eval-episodes", "4", "--fast-eval-episodes", "2", "--hard-games", "0", *extra]
    return it.main(args)


def test_bootstrap_picks_best_and_skips_corrupt(world):
    (world.workdir / "data/policy_mc.pt").write_bytes(b"not a checkpoint at all")
    models = world.workdir / "training_logs/models"
    models.mkdir(parents=True)
    save_policy(SnakePolicy(G, hidden=8, layers=1), models / "older.pt", tag="older")
    world.scores.update({"older": 7.0})
    assert _run(world, "--iterations", "0") == 0
    assert load_policy(world.workdir / "data/policy_mc.pt").meta["tag"] == "older"
    log = (world.workdir / "training_logs/train.log").read_text()
    assert "Skipping a candidate" in log and "policy_mc.pt" in log
    history = load_history(world.workdir / "training_logs/training_history.npz")
    assert history["iteration"].tolist() == [0] and history["mean_score"][0] == 7.0


def test_a_rolled_back_policy_never_reaches_the_kept_checkpoint(world, capsys):
    world.scores.update({"trained-1": 1.0})  # worse than the imitation policy's 2.0
    assert _run(world, "--iterations", "0") == 0
    before = (world.workdir / "data/policy_mc.pt").read_bytes()
    assert _run(world, "--iterations", "1") == 0
    result = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("Training is complete"))
    assert "mean score 2.0" in result, "the kept policy's score, not 1.0"
    assert (world.workdir / "data/policy_mc.pt").read_bytes() == before
    assert load_policy(world.workdir / "data/policy_mc.pt").meta["tag"] == "imitation"
    assert (world.workdir / "training_logs/models/policy_iter_1_mc.pt").read_bytes() == before  # the kept one, again
    assert ("trained-1", 2, DECISIONS) in world.calls, "the rolled-back policy was trained and evaluated"
    history = load_history(world.workdir / "training_logs/training_history.npz")
    assert history["rolled_back"].tolist() == [False, True]
    assert "restored" in str(history["decision"][1])
    assert not (world.workdir / "data/policy_mc_backup.pt").exists()


def test_the_paired_rule_rolls_back_a_drop_beyond_two_standard_errors_and_keeps_one_within(world):
    """Both new policies score 0.5 less than the one they would replace. The first differs from it game by game (its
    own luck), so the drop is within two standard errors and it is kept; the second has the same luck on the same
    games as the first, so the paired differences are all -0.5, the standard error 0, and it is rolled back."""
    world.scores.update({"imitation": 6.0, "trained-1": 5.5, "trained-2": 5.0})  # high enough that no score is clipped
    world.luck.update({"trained-1": 2.0, "trained-2": 2.0})
    assert _run(world, "--iterations", "2", "--eval-full-every", "1") == 0
    history = load_history(world.workdir / "training_logs/training_history.npz")
    assert history["rolled_back"].tolist() == [False, False, True]
    np.testing.assert_allclose(history["gain"][1:], [-0.5, -0.5])
    assert history["gain_se"][1] > 0.25 and history["gain_se"][2] == 0  # -0.5 is within 2 of them, then beyond 0
    assert load_policy(world.workdir / "data/policy_mc.pt").meta["tag"] == "trained-1"


def test_every_comparison_is_on_the_same_games_and_a_fast_kept_policy_plays_the_full_ones_first(world):
    """Iteration 1 keeps trained-1 on the fast games alone (up 0.3, below the threshold, so no full evaluation).
    Iteration 2 is a full one: trained-1 must first play the full games, and trained-2's gain is measured against
    it (0.2), not against the older full score of the imitation policy it replaced (0.5)."""
    world.scores.update({"trained-1": 2.3, "trained-2": 2.5})
    assert _run(world, "--iterations", "2", "--eval-full-every", "2") == 0
    history = load_history(world.workdir / "training_logs/training_history.npz")
    assert history["full_eval"].tolist() == [True, False, True]
    np.testing.assert_allclose(history["gain"][1:], [0.3, 0.2])
    assert history["rolled_back"].tolist() == [False, False, False]
    full = [tag for tag, episodes, _ in world.calls if episodes == 4]
    assert full[-2:] == ["trained-1", "trained-2"], world.calls
    assert {seed for _, _, seed in world.calls} == {DECISIONS}, "every evaluation plays the same games"


def test_search_grows_after_patience_and_human_data_switch(world):
    # Scores creep up by 0.1 an iteration (below the 0.5 threshold), then jump past the human baseline of 4.
    world.scores.update({"trained-1": 2.1, "trained-2": 2.2, "trained-3": 5.0, "trained-4": 5.1})
    assert _run(world, "--iterations", "4", "--mc-adapt-patience", "2", "--mc-k", "3", "--mc-h", "5",
                "--mc-k-step", "1", "--mc-h-step", "2", "--mc-adapt-threshold", "0.5", "--eval-full-every", "100") == 0
    history = load_history(world.workdir / "training_logs/training_history.npz")
    assert history["mc_K"].tolist() == [3, 3, 4, 4, 4]
    assert history["mc_H"].tolist() == [5, 5, 7, 7, 7]
    assert world.train_calls == [True, True, True, False]  # human data dropped after iteration 3 beat 4.0
    assert history["used_human_data"].tolist() == [True, True, True, True, False]
    state = json.loads((world.workdir / "training_logs/run_state.json").read_text())
    assert state["next_iteration"] == 5 and state["use_human_data"] is False
    # a rerun with the same total says so and exits 0
    assert _run(world, "--iterations", "4") == 0
    assert "already done" in (world.workdir / "training_logs/train.log").read_text()


# ----- the real thing ------------------------------------------------------------------------------------------------
TINY = ["--grid-size", str(G), "--mc-episodes", "4", "--mc-k", "2", "--mc-h", "4", "--mc-workers", "1",
        "--eval-episodes", "6", "--fast-eval-episodes", "3", "--train-epochs", "1", "--imitation-demos", "6",
        "--imitation-epochs", "2", "--progress", "lines", "--seed", "3", "--hard-games", "16", "--hard-h", "8"]
FORBIDDEN = re.compile("[\x1b\u2500-\u259f\U0001f300-\U0001faff\u2600-\u27bf]")


def _driver(workdir: Path, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, str(REPO / "iterative_train.py"), "--workdir", str(workdir), *TINY, *extra],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)


@pytest.mark.slow
def test_end_to_end_three_iterations(tmp_path):
    proc = _driver(tmp_path, "--iterations", "3", "--record-videos", "--video-episodes", "2")
    out, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, out
    assert not FORBIDDEN.search(out)
    log = (tmp_path / "training_logs/train.log").read_text()
    for line in out.splitlines():
        if line.strip():
            assert line in log, line
    assert "scripted" in out and "Training is complete: the policy alone fills " in out
    assert "Summary of every iteration" in log  # the per-iteration story: the log, summary.csv, --verbose
    for name in ["data/human_demos.npz", "data/mc_demos.npz"]:
        datasets.load_dataset(tmp_path / name, grid_size=G)
    for n in (1, 2, 3):
        datasets.load_dataset(tmp_path / f"training_logs/mc_demos/iter_{n}.npz", grid_size=G)
        load_policy(tmp_path / f"training_logs/models/policy_iter_{n}_mc.pt", grid_size=G)
    for name in ["data/policy_imitation.pt", "data/policy_mc.pt"]:
        load_policy(tmp_path / name, grid_size=G)
    history = load_history(tmp_path / "training_logs/training_history.npz")
    assert history["iteration"].tolist() == [0, 1, 2, 3]
    for name in ["training_progress.png", "training_summary.txt", "summary.csv", "events.jsonl", "run_state.json"]:
        assert (tmp_path / "training_logs" / name).stat().st_size > 0, name
    assert len((tmp_path / "training_logs/summary.csv").read_text().splitlines()) == 5
    assert list((tmp_path / "training_logs/videos").glob("iter_3.*"))
    for line in (tmp_path / "training_logs/events.jsonl").read_text().splitlines():
        json.loads(line)


@pytest.mark.slow
def test_resume_after_sigkill_mid_iteration(tmp_path):
    proc = _driver(tmp_path, "--iterations", "3")
    log = tmp_path / "training_logs/train.log"
    deadline = time.time() + 300
    while time.time() < deadline:  # wait on a log line inside iteration 2, never on a fixed sleep
        text = log.read_text() if log.exists() else ""
        if "Iteration 2 of 3 begins" in text and "Self-play starts" in text.split("Iteration 2 of 3 begins")[1]:
            break
        time.sleep(0.05)
    else:
        proc.kill()
        pytest.fail("the driver never reached iteration 2's self-play")
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    state = json.loads((tmp_path / "training_logs/run_state.json").read_text())
    assert state["next_iteration"] == 2
    K, H = state["mc_K"], state["mc_H"]
    load_policy(tmp_path / "data/policy_mc.pt", grid_size=G)

    rerun = _driver(tmp_path, "--iterations", "3")
    out, _ = rerun.communicate(timeout=600)
    assert rerun.returncode == 0, out
    assert "Resuming at iteration 2 of 3" in out and f"K {K}" in out and f"H {H}" in out
    history = load_history(tmp_path / "training_logs/training_history.npz")
    assert history["iteration"].tolist() == [0, 1, 2, 3]
    assert history["elapsed_minutes"][3] >= history["elapsed_minutes"][1]
    for n in (1, 2, 3):
        load_policy(tmp_path / f"training_logs/models/policy_iter_{n}_mc.pt", grid_size=G)
    assert not list(tmp_path.rglob("*.tmp"))


def test_a_second_run_on_the_same_folder_is_refused(world, capsys):
    from snake_mc.run.config import Paths
    from snake_mc.run.run_state import exclusive_run

    log = world.workdir / "training_logs/train.log"
    log.parent.mkdir(parents=True)
    log.write_text("The running run's own log.\n")
    capsys.readouterr()
    with exclusive_run(Paths(world.workdir)):  # as if another run held the folder
        assert _run(world, "--iterations", "0") == 2
    said = capsys.readouterr().out
    assert "Training stopped: Another training run (process" in said and "is using" in said
    assert log.read_text() == "The running run's own log.\n", "the refusal is not written into the other run's log"
    assert not (world.workdir / "training_logs/run_state.json").exists()
    assert _run(world, "--iterations", "0") == 0  # once it is free, training starts


def test_a_rerun_with_another_k_says_what_it_does_with_it(world):
    assert _run(world, "--iterations", "0") == 0
    assert _run(world, "--iterations", "0", "--mc-k", "9") == 0  # nothing left to do: no plan, no K sentence
    world.scores.update({"trained-1": 2.0})
    assert _run(world, "--iterations", "1", "--mc-k", "9") == 0
    log = (world.workdir / "training_logs/train.log").read_text()
    assert "The saved K 3 and H 40 continue this run" in log and "K 9 and H 40 of this command are not used" in log


def test_a_damaged_history_is_set_aside_and_the_run_resumes(world):
    assert _run(world, "--iterations", "0") == 0
    (world.workdir / "training_logs/training_history.npz").write_bytes(b"garbage")
    world.scores.update({"trained-1": 2.0})
    assert _run(world, "--iterations", "1") == 0
    logs = world.workdir / "training_logs"
    assert list(logs.glob("training_history.set-aside-*.npz"))
    assert load_history(logs / "training_history.npz")["iteration"].tolist() == [1]
    assert "set aside" in (logs / "train.log").read_text()


def test_a_history_without_a_state_is_kept_not_overwritten(world):
    assert _run(world, "--iterations", "0") == 0
    (world.workdir / "training_logs/run_state.json").unlink()  # as if someone moved the state file alone
    assert _run(world, "--iterations", "0") == 0
    assert list((world.workdir / "training_logs").glob("training_history.set-aside-*.npz"))


def test_an_iteration_ends_with_a_few_sentences_and_the_log_keeps_every_detail(world, capsys):
    assert _run(world, "--iterations", "0") == 0
    world.scores.update({"trained-1": 2.5})
    capsys.readouterr()
    assert _run(world, "--iterations", "1") == 0
    out = capsys.readouterr().out.splitlines()
    start = next(i for i, line in enumerate(out) if line.startswith("Iteration 1 of 1 begins"))
    end = next(i for i, line in enumerate(out) if line.startswith("Iteration 1 is saved"))
    assert end - start <= 6, out[start : end + 1]
    log = (world.workdir / "training_logs/train.log").read_text()
    assert "Fast evaluation:" in log and not any(line.startswith("Fast evaluation:") for line in out)
    assert _run(world, "--iterations", "2", "--verbose") == 0
    assert any(line.startswith("Fast evaluation:") for line in capsys.readouterr().out.splitlines())


@pytest.mark.slow
def test_sigterm_stops_cleanly_with_a_sentence_and_the_run_resumes(tmp_path):
    proc = _driver(tmp_path, "--iterations", "2")
    log = tmp_path / "training_logs/train.log"
    deadline = time.time() + 300
    while time.time() < deadline and not (log.exists() and "Iteration 1 of 2 begins" in log.read_text()):
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 143, out
    assert "Training was stopped by a signal" in out and "Traceback" not in out
    rerun = _driver(tmp_path, "--iterations", "1")
    out, _ = rerun.communicate(timeout=600)
    assert rerun.returncode == 0 and "Resuming at iteration 1 of 1" in out, out


def _helpers_of(pid: int) -> list[int]:
    """The multiprocessing helpers (spawned workers, the resource tracker) whose parent is `pid`."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid and \
                    b"multiprocessing" in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except (OSError, ValueError, IndexError):
            continue
    return found


def test_a_hang_up_of_the_whole_terminal_at_the_start_of_self_play_is_one_sentence(tmp_path):
    """A closed terminal sends SIGHUP to every process of the group: the driver, its self-play workers and
    multiprocessing's resource tracker. The tracker used to die of it and its relaunched copy printed a traceback per
    shared queue; now the helpers start with the hang-up blocked and the driver alone answers, in one sentence."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, str(REPO / "iterative_train.py"), "--workdir", str(tmp_path), *TINY,
                             "--iterations", "2", "--mc-workers", "2"], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env, start_new_session=True)
    log = tmp_path / "training_logs/train.log"
    deadline = time.time() + 300
    while time.time() < deadline and not (log.exists() and "Iteration 1 of 2 begins" in log.read_text()):
        time.sleep(0.05)
    while time.time() < deadline and len(_helpers_of(proc.pid)) < 2:  # the tracker and a worker, at least
        time.sleep(0.01)
    assert time.time() < deadline, "self-play never started"
    os.killpg(proc.pid, signal.SIGHUP)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGHUP, out
    assert "Training was stopped by a signal" in out and "Traceback" not in out, out


def test_a_hung_self_play_worker_stops_the_run_with_exit_1_and_the_run_resumes(world, monkeypatch, capsys):
    from snake_mc.search.self_play import SelfPlayError

    assert _run(world, "--iterations", "0") == 0
    state_file = world.workdir / "training_logs/run_state.json"
    before = state_file.read_bytes()
    timeouts = []

    def hung(policy_path, num_episodes, search, num_workers=1, save_path=None, **kw):
        timeouts.append(kw["worker_timeout_s"])
        raise SelfPlayError("Self-play worker 2 of 2, on episodes 32 to 63, sent no news for 7.5 seconds, so every "
                            "worker was stopped as hung and no data was written; if the machine is only very busy, "
                            "raise --mc-worker-timeout (now 7.5 seconds).")

    stub = phases.generate_self_play_data
    monkeypatch.setattr(phases, "generate_self_play_data", hung)
    capsys.readouterr()
    assert _run(world, "--iterations", "1", "--mc-worker-timeout", "7.5") == 1
    assert timeouts == [7.5], "the flag reaches self-play"
    out = capsys.readouterr().out
    last = out.strip().splitlines()[-1]
    assert last.startswith("Training stopped: Self-play worker 2 of 2") and "--mc-worker-timeout" in last, out
    assert last.endswith("run the same command again to resume.") and "Traceback" not in out
    assert state_file.read_bytes() == before, "the state is the last completed iteration's"
    monkeypatch.setattr(phases, "generate_self_play_data", stub)  # self-play works again: the rerun resumes
    world.scores.update({"trained-1": 2.0})
    assert _run(world, "--iterations", "1") == 0
    assert "Resuming at iteration 1 of 1" in capsys.readouterr().out


def test_quiet_says_only_the_decision_and_the_result_and_the_log_keeps_everything(world, capsys):
    assert _run(world, "--iterations", "0") == 0
    world.scores.update({"trained-1": 2.5, "trained-2": 1.0})
    capsys.readouterr()
    assert _run(world, "--iterations", "2", "--quiet") == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 4, out
    assert out[0].startswith("In iteration 1 of 2, the new policy is kept: ") and out[0].endswith(".")
    assert out[1].startswith("In iteration 2 of 2, ")
    assert out[2].startswith("Training is complete: the policy alone fills ")
    assert out[3].startswith("The policy is in data/policy_mc.pt, and every iteration")
    log = (world.workdir / "training_logs/train.log").read_text()
    for sentence in ("Iteration 1 of 2 begins", "Fast evaluation:", "Summary of every iteration follows."):
        assert sentence in log
    events = (world.workdir / "training_logs/events.jsonl").read_text()
    assert events.count('"event": "decision"') == 2


def test_the_end_of_a_run_says_the_result_first_in_a_few_sentences(world, capsys):
    """A listener hears the result as the run ends, not after a sentence per iteration: at most five sentences after
    the last iteration is saved, the first with the share of boards filled; each iteration's start says the time left
    for the run once one iteration has been timed."""
    assert _run(world, "--iterations", "0") == 0
    world.scores.update({"trained-1": 2.5, "trained-2": 1.0, "trained-3": 3.0})
    capsys.readouterr()
    assert _run(world, "--iterations", "3") == 0
    out = capsys.readouterr().out.splitlines()
    ending = out[next(i for i, line in enumerate(out) if line.startswith("Iteration 3 is saved")) + 1:]
    assert 1 <= len(ending) <= 5, ending
    assert ending[0].startswith("Training is complete: the policy alone fills ") and "percent of boards" in ending[0]
    assert "Iteration 1 of 3 begins." in out  # its time left is not known yet, and not guessed
    starts = [line for line in out if line.startswith(("Iteration 2 of 3 begins", "Iteration 3 of 3 begins"))]
    assert len(starts) == 2 and all(" left for the run." in line for line in starts), starts


def test_quiet_with_verbose_is_a_one_sentence_flag_error(world, capsys):
    with pytest.raises(SystemExit) as stop:
        _run(world, "--quiet", "--verbose")
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["--quiet and --verbose ask for opposite things; keep one of the two."]


# ----- the record says what it holds (issue 20, findings 11 to 13) ------------------------------------------------
def test_training_reads_the_joined_self_play_data_from_mc_demos(world, monkeypatch):
    """data/mc_demos.npz is what training reads: a file changed between the join and the training is what it learns."""
    made = phases.make_data

    def make_then_change(cfg, record, *args):
        archived = made(cfg, record, *args)
        datasets.save_dataset(cfg.paths.mc_demos, datasets.concat_datasets(
            [datasets.load_dataset(cfg.paths.mc_demos, grid_size=G)] * 3, source="mc"))
        return archived

    monkeypatch.setattr(phases, "make_data", make_then_change)
    world.scores.update({"trained-1": 2.0, "trained-2": 2.0})
    assert _run(world, "--iterations", "2", "--mc-reuse-iters", "2") == 0
    assert world.mc_sizes == [12, 24], "4 moves an iteration, joined over the latest 2, then tripled in the file"


def test_a_rerun_with_another_seed_measures_the_replaced_policy_on_its_own_games_first(world):
    assert _run(world, "--iterations", "0") == 0
    state = json.loads((world.workdir / "training_logs/run_state.json").read_text())
    assert state["eval_seed"] == DECISIONS and len(state["fast_scores"]) == 2
    world.calls.clear()
    world.scores.update({"trained-1": 2.0})
    assert _run(world, "--iterations", "1", "--seed", "5") == 0
    new = first_game(Stream.DECISIONS, 5)
    assert world.calls[:2] == [("imitation", 2, new), ("trained-1", 2, new)], world.calls
    assert {seed for _, _, seed in world.calls} == {new}, "every comparison on this run's games"
    log = (world.workdir / "training_logs/train.log").read_text()
    assert "this run's --seed ask for others, so the current policy first plays this run's 2 fast games" in log
    assert json.loads((world.workdir / "training_logs/run_state.json").read_text())["eval_seed"] == new


def test_a_rerun_with_more_fast_games_measures_the_replaced_policy_on_them(world):
    assert _run(world, "--iterations", "0") == 0
    world.scores.update({"trained-1": 2.5})
    world.calls.clear()
    assert _run(world, "--iterations", "1", "--fast-eval-episodes", "4", "--eval-full-every", "100") == 0
    assert world.calls[:2] == [("imitation", 4, DECISIONS), ("trained-1", 4, DECISIONS)]
    assert "this run's --fast-eval-episodes ask for others" in (world.workdir / "training_logs/train.log").read_text()
    history = load_history(world.workdir / "training_logs/training_history.npz")
    np.testing.assert_allclose(history["gain"][1], 0.5)
    state = json.loads((world.workdir / "training_logs/run_state.json").read_text())
    assert len(state["fast_scores"]) == 4


def test_no_include_human_data_holds_for_its_own_run_only(world):
    assert _run(world, "--iterations", "0") == 0
    world.scores.update({"trained-1": 2.0, "trained-2": 2.0})
    assert _run(world, "--iterations", "1", "--no-include-human-data") == 0
    assert json.loads((world.workdir / "training_logs/run_state.json").read_text())["use_human_data"] is True
    assert _run(world, "--iterations", "2") == 0
    assert world.train_calls == [False, True], "the next run without the flag trains on the demonstrations again"


def test_the_commit_is_the_only_writer_of_the_policy_and_the_summary(world, monkeypatch):
    """Between one commit and the next (and after the last), data/policy_mc.pt and summary.csv stay the same files."""
    from snake_mc.run.run_state import RunRecord

    paths = [world.workdir / "data/policy_mc.pt", world.workdir / "training_logs/summary.csv"]

    def stamp() -> list:
        return [(f.stat().st_ino, f.stat().st_mtime_ns) if f.exists() else None for f in paths]

    seen, real = [], RunRecord.commit

    def watched(self, *args, **kw):
        seen.append(("before", stamp()))
        real(self, *args, **kw)
        seen.append(("after", stamp()))

    monkeypatch.setattr(RunRecord, "commit", watched)
    world.scores.update({"trained-1": 2.5, "trained-2": 1.0, "trained-3": 3.0})
    assert _run(world, "--iterations", "3") == 0
    seen.append(("end", stamp()))
    assert len(seen) == 9
    for (_, after), (_, before) in zip(seen[1::2], seen[2::2]):
        assert before == after, "written outside the commit"
    assert seen[0][1] == [None, None], "nothing before the first commit"

# ----- files outside the work folder are never written through a link (issue 21, items 10 and 11) -------------------
@pytest.mark.parametrize("name", ["run.lock", "train.log", "events.jsonl"])
def test_a_symlinked_lock_or_log_is_refused_and_what_it_points_to_is_untouched(world, capsys, tmp_path_factory, name):
    outside = tmp_path_factory.mktemp("elsewhere") / "precious.txt"
    outside.write_text("keep me\n")
    logs = world.workdir / "training_logs"
    logs.mkdir()
    (logs / name).symlink_to(outside)
    capsys.readouterr()
    assert _run(world, "--iterations", "0") == 2
    captured = capsys.readouterr()
    text = (captured.out + captured.err).strip()
    assert len(text.splitlines()) <= 2 and "Traceback" not in text, text
    last = text.splitlines()[-1]
    assert name in last and "symbolic link" in last and last.endswith("."), last
    assert outside.read_text() == "keep me\n", "the file the link points to was written"
    assert (logs / name).is_symlink() and not (logs / "run_state.json").exists()


def test_a_work_folder_that_cannot_be_written_is_one_sentence(world, capsys, monkeypatch):
    from snake_mc.speech import narrate

    def denied(path, mode="a"):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(narrate, "open_own", denied)
    assert _run(world, "--iterations", "0") == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "Traceback" not in captured.err
    line = captured.err.strip()
    assert len(line.splitlines()) == 1 and "cannot be written" in line and "--workdir" in line, line


def _full_disk(real_open):
    """An `open` whose writes go to /dev/full (every write fails with ENOSPC, as on a full disk); reads are real."""

    def full_open(file, mode="r", *args, **kwargs):
        return real_open("/dev/full", mode, *args, **kwargs) if "w" in mode else real_open(file, mode, *args, **kwargs)

    return full_open


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_full_disk_while_saving_the_checkpoint_says_so_naming_it_and_keeps_every_file(world, capsys, monkeypatch):
    import builtins

    from snake_mc.learn import network

    assert _run(world, "--iterations", "0") == 0
    logs = world.workdir / "training_logs"
    kept = {f: f.read_bytes() for f in [*logs.glob("*.json"), *logs.glob("*.npz"), *world.workdir.glob("data/*.pt")]}
    world.scores.update({"trained-1": 3.0})  # kept: the new policy is saved over data/policy_mc.pt
    monkeypatch.setattr(network, "open", _full_disk(builtins.open), raising=False)
    capsys.readouterr()
    assert _run(world, "--iterations", "1") == 1
    out = capsys.readouterr().out
    last = out.strip().splitlines()[-1]
    assert "Traceback" not in out and "unexpected pos" not in out, out
    assert last.startswith("Training stopped: the disk is full, so ") and "policy_mc.pt could not be written" in last
    assert last.endswith("run the same command again to resume."), last
    for f, data in kept.items():
        assert f.read_bytes() == data, f"{f.name} changed"
    assert not list(world.workdir.rglob(".*.tmp")), "no temporary file is left behind"


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_full_disk_while_saving_an_array_file_names_it(tmp_path, monkeypatch):
    import builtins
    import errno

    from snake_mc.common import storage

    monkeypatch.setattr(storage, "open", _full_disk(builtins.open), raising=False)
    with pytest.raises(OSError) as info:
        storage.save_npz_atomic(tmp_path / "history.npz", {"a": np.zeros(100_000)})
    assert info.value.errno == errno.ENOSPC and info.value.filename == str(tmp_path / "history.npz")
    assert storage.file_failure(info.value).startswith(f"the disk is full, so {tmp_path / 'history.npz'} could not")
    assert not list(tmp_path.iterdir())


def test_each_kill_during_the_first_commit_leaves_at_most_one_set_aside_history(world, monkeypatch, capsys):
    from snake_mc.run import run_state

    real_save = run_state.RunState.save

    def killed(self, path):  # as if the run were killed after the history, before the state file
        raise KeyboardInterrupt

    import datetime
    import itertools
    import types

    ticks = itertools.count()  # a second passes between set-asides, as between real reruns

    class Clock(datetime.datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime.datetime(2026, 1, 1, tzinfo=tz) + datetime.timedelta(seconds=next(ticks))

    monkeypatch.setattr(run_state, "datetime", types.SimpleNamespace(datetime=Clock))
    monkeypatch.setattr(run_state.RunState, "save", killed)
    for _ in range(3):
        assert _run(world, "--iterations", "0") == 130
    monkeypatch.setattr(run_state.RunState, "save", real_save)
    assert _run(world, "--iterations", "0") == 0
    logs = world.workdir / "training_logs"
    assert len(list(logs.glob("training_history.set-aside-*.npz"))) == 1
    assert load_history(logs / "training_history.npz")["iteration"].tolist() == [0]
    (logs / "training_history.npz").write_bytes(b"another run's history")  # different content is still kept
    (logs / "run_state.json").unlink()
    assert _run(world, "--iterations", "0") == 0
    assert len(list(logs.glob("training_history.set-aside-*.npz"))) == 2


def test_an_unreachable_ray_address_stops_the_run_at_once_with_one_sentence(world, capsys):
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    start = time.monotonic()
    assert _run(world, "--iterations", "1", "--backend", "ray", "--ray-address", f"127.0.0.1:{port}") == 1
    assert time.monotonic() - start < 30
    out = capsys.readouterr().out
    last = out.strip().splitlines()[-1]
    assert last.startswith(f"Training stopped: The Ray cluster at 127.0.0.1:{port} cannot be reached") and "Traceback" not in out
    assert not (world.workdir / "training_logs/run_state.json").exists(), "nothing was started"


def test_an_interrupt_before_any_iteration_does_not_claim_an_iteration_was_saved(world, monkeypatch, capsys):
    def interrupted(cfg, say):
        raise KeyboardInterrupt

    monkeypatch.setattr(begin, "ensure_prerequisites", interrupted)
    assert _run(world, "--iterations", "1") == 130
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("Training was interrupted. No iteration was completed yet") and "last completed" not in last


def test_a_state_from_before_the_seed_was_recorded_is_measured_again_on_this_runs_games(world):
    assert _run(world, "--iterations", "0") == 0
    path = world.workdir / "training_logs/run_state.json"
    state = json.loads(path.read_text())
    del state["eval_seed"]  # as an older version wrote it
    path.write_text(json.dumps(state))
    world.calls.clear()
    world.scores.update({"trained-1": 2.0})
    assert _run(world, "--iterations", "1") == 0
    assert world.calls[0] == ("imitation", 2, DECISIONS), world.calls
    assert "measured on games this version did not record" in (world.workdir / "training_logs/train.log").read_text()
    assert json.loads(path.read_text())["eval_seed"] == DECISIONS


# ----- speed: moves per apple on the boards both policies filled (issue 24, item 3) ------------------------------
FILLED = float(G * G - 3 + 1)  # every stub game scores 33 to 35: each 6 by 6 board is filled


def _decision_events(world) -> list[dict]:
    lines = (world.workdir / "training_logs/events.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if '"event": "decision"' in line]


def test_a_slower_policy_that_fills_every_board_is_rolled_back_and_its_speed_is_recorded(world):
    """Level on score and fill, one move per apple slower on every game: the fast games show it, the full ones confirm
    it, and the policy is rolled back; the replaced policy's lengths stay in the state beside its scores."""
    world.scores.update({"imitation": FILLED, "trained-1": FILLED})
    world.moves.update({"imitation": 30.0, "trained-1": 31.0})
    assert _run(world, "--iterations", "0") == 0
    path = world.workdir / "training_logs/run_state.json"
    before = json.loads(path.read_text())
    assert len(before["fast_lengths"]) == 2 and len(before["full_lengths"]) == 4
    assert _run(world, "--iterations", "1") == 0
    history = load_history(world.workdir / "training_logs/training_history.npz")
    assert history["rolled_back"].tolist() == [False, True] and history["full_eval"].tolist() == [True, True]
    assert np.isnan(history["speed_gain"][0]) and history["moves_per_apple"][0] == pytest.approx(30.0, abs=0.05)
    assert history["speed_gain"][1] == pytest.approx(1.0, abs=0.05) and history["speed_se"][1] < 0.05
    assert history["moves_per_apple"][1] == pytest.approx(31.0, abs=0.05)
    assert "moves per apple up 1.00, standard error 0.01, on the 4 games both filled" in str(history["decision"][1])
    log = (world.workdir / "training_logs/train.log").read_text()
    assert "moves per apple rose by more than 2 standard errors, so it is slower" in log
    (event,) = _decision_events(world)
    assert not event["kept"] and event["speed_games"] == 4 and event["speed_gain"] == pytest.approx(1.0, abs=0.05)
    assert event["moves_per_apple"] == pytest.approx(31.0, abs=0.05)
    after = json.loads(path.read_text())
    assert (after["fast_lengths"], after["full_lengths"]) == (before["fast_lengths"], before["full_lengths"])


def test_a_state_without_lengths_resumes_with_the_speed_unknown_and_a_faster_policy_restarts_the_count(world):
    """A run_state.json from before the lengths were saved: the first comparison has no speed (the level policy is kept
    as low improvement); the next, on full games the kept policy plays again, sees it faster and restarts the count."""
    world.scores.update({"imitation": FILLED, "trained-1": FILLED, "trained-2": FILLED})
    world.moves.update({"imitation": 30.0, "trained-1": 29.0, "trained-2": 28.0})
    assert _run(world, "--iterations", "0") == 0
    path = world.workdir / "training_logs/run_state.json"
    state = json.loads(path.read_text())
    del state["fast_lengths"], state["full_lengths"]  # as an older version wrote it
    path.write_text(json.dumps(state))
    assert _run(world, "--iterations", "1") == 0
    state = json.loads(path.read_text())
    assert state["low_improvement_streak"] == 1 and len(state["fast_lengths"]) == 2 and state["full_lengths"] == []
    assert _run(world, "--iterations", "2") == 0
    history = load_history(world.workdir / "training_logs/training_history.npz")
    assert history["rolled_back"].tolist() == [False, False, False]
    assert np.isnan(history["speed_gain"][1]) and "moves per apple" not in str(history["decision"][1])
    assert history["speed_gain"][2] == pytest.approx(-1.0, abs=0.05) and history["full_eval"][2]
    assert json.loads(path.read_text())["low_improvement_streak"] == 0
    assert [e["speed_games"] for e in _decision_events(world)] == [0, 4]
    csv = (world.workdir / "training_logs/summary.csv").read_text().splitlines()
    assert "moves_per_apple,speed_gain,speed_se" in csv[0] and len(csv) == 4


# ----- issue 26: no stale lock, and a grown search that resumes -------------------------------------------------------
def test_no_lock_is_left_after_a_run_that_ends_well_or_badly_or_is_interrupted(world, monkeypatch):
    lock = world.workdir / "training_logs/run.lock"
    assert _run(world, "--iterations", "0") == 0
    assert not lock.exists()
    (world.workdir / "training_logs/run_state.json").write_text("{")  # bad input: exit 2
    assert _run(world, "--iterations", "0") == 2
    assert not lock.exists()

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(it, "run", interrupted)
    assert _run(world, "--iterations", "0") == 130
    assert not lock.exists()


def test_the_search_grows_no_further_than_a_rerun_accepts_so_the_run_resumes(world):
    from snake_mc.run.run_state import RunState

    assert _run(world, "--iterations", "0", "--mc-k", "9999", "--mc-h", "99995") == 0
    world.scores.update({"trained-1": 2.0, "trained-2": 2.0})  # no gain: the search grows after each iteration
    grow = ("--mc-adapt-patience", "1", "--mc-k-step", "5", "--mc-h-step", "50")
    assert _run(world, "--iterations", "1", *grow) == 0
    state = RunState.load(world.workdir / "training_logs/run_state.json")  # refused as damaged past the maxima
    assert (state.mc_K, state.mc_H) == (10_000, 100_000)
    log = (world.workdir / "training_logs/train.log").read_text()
    assert "K from 9999 to 10000, H from 99995 to 100000" in log, "the sentence says what was saved"
    assert _run(world, "--iterations", "2", *grow) == 0  # resumes, and stays at the maxima
    state = RunState.load(world.workdir / "training_logs/run_state.json")
    assert (state.next_iteration, state.mc_K, state.mc_H) == (3, 10_000, 100_000)
