"""evaluate.py and search/evaluation.py: seeded, batched evaluation, alone or with the search; the command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from evaluate import main
from snake_mc.game.rules import SnakeEnv
from snake_mc.learn.network import SnakePolicy, save_policy
from snake_mc.search.evaluation import evaluate_policy

ROOT = Path(__file__).resolve().parent.parent
G = 6


class Constant:
    """Always the same relative action; counts the batch size of every call."""

    def __init__(self, action: int) -> None:
        self.action = action
        self.sizes: list[int] = []

    def act(self, batch, greedy: bool = True) -> np.ndarray:
        assert greedy
        assert not batch.done.any(), "evaluation fed a finished game to the policy"
        self.sizes.append(len(batch))
        return np.full(len(batch), self.action)


class FoodSeeker:
    """Scripted: among the moves that do not die at once, the one nearest the food (batched, no loop over games)."""

    def act(self, batch, greedy: bool = True) -> np.ndarray:
        g = batch.grid_size
        cell, _, safe = batch.move_targets()  # safe: on the board and free (the tail cell frees this move)
        food = np.maximum(batch.food, 0)
        dist = np.abs(cell // g - (food // g)[:, None]) + np.abs(cell % g - (food % g)[:, None])
        cost = np.where(safe, dist, 10**6) + np.arange(3)[None, :] * 1e-3  # ties go to the lowest action
        return cost.argmin(axis=1)


def random_policy(seed: int = 0) -> SnakePolicy:
    torch.manual_seed(seed)
    return SnakePolicy(grid_size=G, hidden=32).eval()


def play_alone(policy, seed: int, **kwargs) -> tuple[int, int]:
    """One game on its own through SnakeEnv: (score, moves), the reference for the batched evaluation."""
    env = SnakeEnv(G, **kwargs)
    env.reset(seed=seed)
    moves = 0
    while True:
        action = int(policy.act(env.game, greedy=True)[0])
        _, _, terminated, truncated, info = env.step(action)
        moves += 1
        if terminated or truncated:
            return info["score"], moves


def test_same_seed_same_games_and_different_seeds_differ():
    policy = random_policy()
    first = evaluate_policy(policy, 8, G, seed=3)
    again = evaluate_policy(policy, 8, G, seed=3)
    np.testing.assert_array_equal(first["scores"], again["scores"])
    np.testing.assert_array_equal(first["lengths"], again["lengths"])
    seeker = FoodSeeker()
    a = evaluate_policy(seeker, 8, G, seed=0)
    b = evaluate_policy(seeker, 8, G, seed=100)
    assert not np.array_equal(a["scores"], b["scores"])


def test_fast_eval_is_the_first_episodes_of_the_full_eval():
    for policy in (random_policy(1), FoodSeeker()):
        full = evaluate_policy(policy, 12, G, seed=5)
        fast = evaluate_policy(policy, 4, G, seed=5)
        np.testing.assert_array_equal(fast["scores"], full["scores"][:4])
        np.testing.assert_array_equal(fast["lengths"], full["lengths"][:4])
        assert fast["scores"].dtype.kind == "i" and fast["lengths"].dtype.kind == "i"


def test_a_fast_search_evaluation_is_the_first_episodes_of_the_full_one():
    # Each game's rollouts are keyed by the game itself, not by its place in the batch.
    policy = random_policy(2)
    budget = {"starve_steps": 30, "mc_k": 3, "mc_h": 4, "mc_seed": 9, "mc_options": {"temperature": 1.0}}
    full = evaluate_policy(policy, 8, G, seed=5, **budget)
    fast = evaluate_policy(policy, 3, G, seed=5, **budget)
    np.testing.assert_array_equal(fast["scores"], full["scores"][:3])
    np.testing.assert_array_equal(fast["lengths"], full["lengths"][:3])
    assert full["lengths"].max() > 6, "the games run long enough for the search to matter"


def test_batched_episodes_match_games_played_one_by_one():
    seeker = FoodSeeker()
    result = evaluate_policy(seeker, 6, G, seed=11)
    alone = [play_alone(seeker, 11 + i) for i in range(6)]
    assert result["scores"].tolist() == [s for s, _ in alone]
    assert result["lengths"].tolist() == [m for _, m in alone]


def test_statistics_of_a_scripted_player():
    seeker = FoodSeeker()
    r = evaluate_policy(seeker, 10, G, seed=0)
    s, m = r["scores"], r["lengths"]
    assert s.sum() > 0, "the food seeker should eat on a 6x6 board"
    assert r["mean_score"] == pytest.approx(s.mean())
    assert r["std_score"] == pytest.approx(s.std())
    assert r["max_score"] == s.max()
    assert r["mean_length"] == pytest.approx(m.mean())
    assert r["moves_per_apple"] == pytest.approx(m.sum() / s.sum())
    assert r["win_rate"] == 0.0  # a greedy seeker never fills a 6x6 board
    assert r["num_episodes"] == 10 and r["seed"] == 0 and r["seconds"] >= 0


def test_straight_player_hits_the_wall_on_its_third_move():
    # From the middle of a 6x6 board heading right, the head is at column 3: columns 4 and 5, then the wall.
    r = evaluate_policy(Constant(1), 20, G, seed=0)
    assert r["lengths"].tolist() == [3] * 20
    assert set(r["scores"].tolist()) <= {0, 1, 2}
    assert r["mean_score"] == pytest.approx(r["scores"].mean())
    assert np.isnan(r["moves_per_apple"]) == (r["scores"].sum() == 0)


def test_circling_player_starves_and_the_step_cap_ends_it():
    # Always turning left circles a 2x2 square forever: legal, since the head takes the cell the tail leaves.
    starved = evaluate_policy(Constant(0), 6, G, seed=0, starve_steps=7)
    hungry = starved["scores"] == 0
    assert hungry.any()
    assert (starved["lengths"][hungry] == 7).all()
    capped = evaluate_policy(Constant(0), 6, G, seed=0, starve_steps=10**9, max_steps=25)
    assert capped["lengths"].max() == 25
    assert (capped["lengths"][capped["scores"] == 0] == 25).all()


def test_policy_sees_only_live_games():
    # Seeds 0..9 with a straight player: games die together at move 3; the seeker's games end at different moves.
    stub = Constant(1)
    evaluate_policy(stub, 10, G, seed=0)
    assert stub.sizes == [10, 10, 10]

    class Counting(FoodSeeker):
        def __init__(self) -> None:
            self.sizes: list[int] = []

        def act(self, batch, greedy: bool = True) -> np.ndarray:
            assert not batch.done.any()
            self.sizes.append(len(batch))
            return super().act(batch, greedy)

    counting = Counting()
    r = evaluate_policy(counting, 9, G, seed=2, starve_steps=40)
    lengths = r["lengths"]
    assert len(set(lengths.tolist())) > 1
    assert counting.sizes == [int((lengths > t).sum()) for t in range(lengths.max())]


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="episodes"):
        evaluate_policy(Constant(1), 0, G)
    with pytest.raises(ValueError, match="K and H"):
        evaluate_policy(Constant(1), 2, G, mc_k=4)


def test_progress_counts_the_moves_played_in_games_worth():
    from snake_mc.speech.narrate import Narrator

    class Listening(Narrator):
        def __init__(self) -> None:
            super().__init__(progress="off")
            self.calls = []

        def progress(self, total, description, unit="items", **expectation):
            self.calls.append((total, unit))
            return super().progress(total, description, unit, **expectation)

    listener = Listening()
    evaluate_policy(Constant(1), 4, G, narrator=listener)
    assert listener.calls == [(4, "games' worth of moves")]


def test_monte_carlo_evaluation_is_seeded_and_survives_longer():
    policy = random_policy(0)
    with torch.no_grad():  # a network that always prefers straight on: it runs into the wall on its third move
        policy.policy_head.weight.zero_()
        policy.policy_head.bias.copy_(torch.tensor([0.0, 5.0, 0.0]))
    greedy = evaluate_policy(policy, 3, G, seed=0, starve_steps=20)
    assert greedy["lengths"].tolist() == [3, 3, 3]
    first = evaluate_policy(policy, 3, G, seed=0, starve_steps=20, mc_k=4, mc_h=3, mc_seed=7)
    again = evaluate_policy(policy, 3, G, seed=0, starve_steps=20, mc_k=4, mc_h=3, mc_seed=7)
    np.testing.assert_array_equal(first["scores"], again["scores"])
    np.testing.assert_array_equal(first["lengths"], again["lengths"])
    assert first["mean_length"] > greedy["mean_length"]


def test_search_options_reach_the_search():
    policy = random_policy(0)
    with pytest.raises(ValueError, match="margin"):
        evaluate_policy(policy, 2, G, seed=0, starve_steps=20, mc_k=2, mc_h=2, mc_options={"margin": -1.0})


# ----- command line --------------------------------------------------------------------------------------------
@pytest.fixture
def checkpoint(tmp_path: Path) -> Path:
    path = tmp_path / "policy.pt"
    save_policy(random_policy(), path)
    return path


def test_cli_prints_sentences_and_no_machine_line(checkpoint: Path):
    out = subprocess.run(
        [sys.executable, "evaluate.py", str(checkpoint), "--episodes", "5", "--device", "cpu"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "\x1b" not in out.stdout + out.stderr and "mean_score" not in out.stdout
    from snake_mc.common.seeds import REPORT_SEED

    expected = evaluate_policy(random_policy(), 5, G, seed=REPORT_SEED)["mean_score"]
    text = out.stdout
    assert f"Mean score {expected:.1f}" in text
    assert "percent" in text and "standard deviation" in text and "Mean episode length" in text
    import re

    assert not re.search(r"\.0 moves|\d\d\.\d moves|\.0 percent", text), "rounded for speech: moves and percent"


@pytest.mark.parametrize(("share", "said"), [(1.0, "100 percent"), (0.0, "0 percent"), (0.87, "87 percent"),
                                             (0.996, "99.6 percent"), (0.004, "0.4 percent"), (0.5, "50 percent")])
def test_shares_are_said_in_whole_percent_unless_that_would_say_all_or_none(share, said):
    from evaluate import spoken_percent

    assert spoken_percent(share) == said


def test_cli_json_prints_one_object_on_stdout_and_sentences_on_stderr(checkpoint: Path):
    out = subprocess.run(
        [sys.executable, "evaluate.py", str(checkpoint), "--episodes", "5", "--seed", "7", "--json"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    figures = json.loads(out.stdout)
    expected = evaluate_policy(random_policy(), 5, G, seed=7)
    assert figures["mean_score"] == pytest.approx(expected["mean_score"])
    assert figures["win_rate"] == expected["win_rate"] and figures["episodes"] == 5 and figures["seed"] == 7
    assert {"std_score", "mean_length", "moves_per_apple", "moves_per_apple_interval"} <= set(figures)
    assert "Mean score" in out.stderr


def test_cli_refuses_a_missing_checkpoint(tmp_path: Path, capsys):
    missing = tmp_path / "nowhere.pt"
    assert main([str(missing), "--episodes", "2"]) == 2
    err = capsys.readouterr().err.strip()
    assert str(missing) in err and len(err.splitlines()) == 1


def test_cli_refuses_a_wrong_grid(checkpoint: Path, capsys):
    assert main([str(checkpoint), "--episodes", "2", "--grid-size", "8"]) == 2
    err = capsys.readouterr().err.strip()
    assert "6 by 6" in err and "8 by 8" in err


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (["--episodes", "0"], "--episodes"),
        (["--mc-k", "-1", "--mc-h", "3"], "--mc-k"),
        (["--mc-k", "4"], "--mc-h"),
        (["--mc-h", "4"], "--mc-k"),
        (["--episodes", "many"], "--episodes"),
        (["--mc-k", "2", "--mc-h", "3", "--mc-margin", "-1"], "--mc-margin"),
        (["--threads", "0"], "--threads"),
        (["--mc-k", "2", "--mc-h", "3", "--search-threads", "0"], "--search-threads"),
    ],
)
def test_cli_bad_flags_exit_2_naming_the_flag(checkpoint: Path, capsys, flags: list[str], named: str):
    with pytest.raises(SystemExit) as stop:
        main([str(checkpoint), *flags])
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip()
    assert named in err and len(err.splitlines()) == 1 and err.endswith(".")


def test_progress_sentences_say_the_time_left_and_short_phases_say_nothing(capsys):
    from snake_mc.speech.narrate import Narrator, Progress, about

    say = Narrator(progress="lines")
    quick = Progress(say, 8, "Quick work", "items", "lines", after_s=5.0)
    for _ in range(8):
        quick.update()
    assert capsys.readouterr().out == ""  # done within 5 seconds: no news
    slow = Progress(say, 8, "Slow work", "items", "lines", after_s=0.0, gap_s=0.0)
    slow.start -= 60  # as if a minute had passed before the first update
    slow.update(2)
    out = capsys.readouterr().out.strip()
    assert out == "Slow work: 25 percent done, 2 of 8 items, about 3 minutes left."
    assert about(42) == "about 40 seconds" and about(3700) == "about 1 hour 2 minutes"


def test_long_games_still_give_news_while_no_game_ends():
    from snake_mc.speech.narrate import Narrator

    class Watching(Narrator):
        """Records every progress update: every move must reach the progress, which is what lets it say a sentence
        every 30 seconds however long the games last, and the moves played move it on before any game ends (a
        count of ended games said "1 percent done" for minutes, then jumped, as games end in a clump)."""

        def __init__(self) -> None:
            super().__init__(progress="off")
            self.updates = []

        def progress(self, total, description, unit="items", **expectation):
            bar = super().progress(total, description, unit, **expectation)
            original = bar.update
            bar.update = lambda n=1: (self.updates.append(n), original(n))[1]
            return bar

    watcher = Watching()
    result = evaluate_policy(FoodSeeker(), 2, G, narrator=watcher, expected_length=10)
    assert len(watcher.updates) == int(result["lengths"].max()), "news can come at every move"
    assert sum(watcher.updates) == 1  # one game's worth of moves of two: never 100 percent before the end
    assert watcher.updates.index(1) == 4 < int(result["lengths"].min()) - 1, "after 5 moves of 2 games, no game over"


# ----- moves per apple with its interval, and the games off the policy's path ---------------------------------------
def test_the_moves_per_apple_interval_holds_the_figure_and_narrows_with_more_games():
    from evaluate import moves_per_apple_interval

    few, many = evaluate_policy(FoodSeeker(), 8, G, seed=0), evaluate_policy(FoodSeeker(), 64, G, seed=0)
    widths = []
    for r in (few, many):
        low, high = moves_per_apple_interval(r["lengths"], r["scores"])
        assert 1 <= low < r["moves_per_apple"] < high
        widths.append(high - low)
    assert widths[1] < widths[0]
    assert all(np.isnan(moves_per_apple_interval([40], [3])))  # one game: no spread to measure
    assert all(np.isnan(moves_per_apple_interval([3, 3], [0, 0])))  # no apple: no figure


def test_the_result_says_moves_per_apple_with_its_interval():
    import io

    from evaluate import _say_result, moves_per_apple_interval
    from snake_mc.speech.narrate import Narrator

    out = io.StringIO()
    result = evaluate_policy(FoodSeeker(), 30, G, seed=0)
    _say_result(result, Narrator(stream=out))
    line = next(x for x in out.getvalue().splitlines() if x.startswith("On average an apple took"))
    low, high = moves_per_apple_interval(result["lengths"], result["scores"])
    assert line == (f"On average an apple took {result['moves_per_apple']:.1f} moves; the 95 percent interval runs "
                    f"from {low:.1f} to {high:.1f}.")  # below ten moves, one decimal


def test_off_path_results_are_said_in_whole_sentences():
    import io

    from evaluate import _say_off_path
    from snake_mc.search.off_path import off_path_evaluation
    from snake_mc.speech.narrate import Narrator

    out = io.StringIO()
    _say_off_path("early", off_path_evaluation(FoodSeeker(), 12, G, seed=0, handover_moves=10), Narrator(stream=out))
    _say_off_path("late", off_path_evaluation(Constant(1), 3, G, seed=0, handover_moves=10), Narrator(stream=out))
    lines = out.getvalue().splitlines()
    assert lines[0] == "Off the policy's path, early: 12 of 12 games were still running after 10 own moves; then 3 random " \
                       "safe moves were forced."
    assert lines[-1] == "Off the policy's path, late: no game was still running after 10 own moves, so there is nothing " \
                        "to measure."
    assert all(x.endswith(".") and "nan" not in x and "None" not in x for x in lines)
    assert any("filled the board in" in x and "95 percent interval" in x for x in lines)


def test_cli_off_path_json_adds_the_early_and_late_figures(checkpoint: Path):
    from snake_mc.search.off_path import off_path_report

    out = subprocess.run(
        [sys.executable, "evaluate.py", str(checkpoint), "--episodes", "6", "--seed", "7", "--off-path", "--json"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    figures = json.loads(out.stdout)
    assert figures["episodes"] == 6 and set(figures["off_path"]) == {"early", "late"}
    expected = off_path_report(random_policy(), 6, G, seed=7)
    for name, part in figures["off_path"].items():
        assert {"alive", "filled", "win_rate", "win_rate_interval", "mean_score", "moves_per_apple", "handover_moves",
                "forced_moves", "seed", "seconds"} <= set(part)
        assert part["alive"] == expected[name]["alive"] and part["filled"] == expected[name]["filled"]
        assert part["handover_moves"] == expected[name]["handover_moves"] and part["seed"] == 7
        assert f"Off the policy's path, {name}:" in out.stderr


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (["--mc-k", "10000000", "--mc-h", "5", "--no-tour"], "--mc-k"),
        (["--mc-k", "5", "--mc-h", "1000000"], "--mc-h"),
        (["--episodes", "100", "--mc-k", "10000", "--mc-h", "5"], "--mc-k"),  # 3 million rollouts at once
        (["--seed", str(2**64)], "--seed"),
        (["--seed", "-1"], "--seed"),
        (["--grid-size", "0"], "--grid-size"),
        (["--grid-size", "64"], "--grid-size"),
    ],
)
def test_cli_bounds_every_flag_that_sizes_work_in_one_sentence(checkpoint: Path, capsys, monkeypatch,
                                                               flags: list[str], named: str):
    """Issue 26: --mc-k 1e7 asked for 8 GB, --seed 2**64 ended in an OverflowError, --grid-size 0 spoke of a 0 by 0
    grid. Each is refused before any game is played."""
    import evaluate

    def played(*args, **kwargs):
        raise AssertionError("a game was played")

    monkeypatch.setattr(evaluate, "evaluate_policy", played)
    with pytest.raises(SystemExit) as stop:
        main([str(checkpoint), *flags])
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip()
    assert named in err and len(err.splitlines()) == 1 and err.endswith(".") and "Traceback" not in err, err
