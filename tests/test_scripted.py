"""scripted.py: the scripted player's strength and safety, and the datasets `record_scripted` writes."""

from __future__ import annotations

import numpy as np
import pytest

from snake_mc.game.datasets import validate_dataset
from snake_mc.game.rules import SnakeBatch, SnakeEnv
from snake_mc.game.scripted import record_scripted, scripted_action


@pytest.fixture(scope="module")
def fifty_games() -> dict[str, np.ndarray]:
    return record_scripted(50, grid_size=10, seed=0)


def test_scripted_player_scores_well_on_10x10(fifty_games):
    """The README's figure: a mean of 95 on 10 by 10 (97 fills the board). Measured on these 50 games: a mean of 95.6
    and a worst game of 90; a player that hugs its tail instead of sweeping open space scores far less."""
    scores = fifty_games["episode_scores"]
    mean = float(scores.mean())
    print(f"scripted player: mean score {mean:.1f}, worst {scores.min()}, over 50 games of 10 by 10")
    assert mean >= 93 and scores.min() >= 80


def test_scripted_dataset_is_valid_and_matches_a_replay(fifty_games):
    data = fifty_games
    validate_dataset(data, "scripted", grid_size=10)
    assert str(data["source"]) == "scripted"
    assert np.all(np.diff(data["episode"]) >= 0), "samples are grouped by episode"
    # Replay every episode's actions from seed 0 + i in lockstep: states before each move, and final scores, must agree.
    n = len(data["episode_scores"])
    starts = np.searchsorted(data["episode"], np.arange(n))
    lengths = np.bincount(data["episode"], minlength=n)
    batch = SnakeBatch(n, 10, seeds=np.arange(n))
    for k in range(int(lengths.max())):
        live = np.flatnonzero(lengths > k)
        assert not batch.done[live].any(), "an episode went on after the game ended"
        rows = starts[live] + k
        exported = batch.export_states()
        for key in ("ttl", "head", "direction", "food", "since_food"):
            np.testing.assert_array_equal(exported[key][live], data[key][rows])
        actions = np.ones(n, dtype=np.int64)
        actions[live] = data["actions"][rows]
        batch.step(actions)
    assert batch.done.all(), "every recorded episode ends with the game over"
    np.testing.assert_array_equal(batch.score, data["episode_scores"])


def test_record_scripted_is_reproducible_for_a_seed():
    a = record_scripted(4, grid_size=6, seed=7)
    b = record_scripted(4, grid_size=6, seed=7)
    c = record_scripted(4, grid_size=6, seed=8)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    assert len(a["actions"]) != len(c["actions"]) or not np.array_equal(a["actions"], c["actions"])


def _fatal(batch: SnakeBatch, i: int) -> np.ndarray:
    """Which of the three actions kill game i on this move (a win is not a death)."""
    trial = batch.take(np.full(3, i))
    trial.step(np.array([0, 1, 2]))
    return trial.terminated & ~trial.won


def test_scripted_player_takes_the_only_safe_moves():
    corner = SnakeEnv.from_state(6, [(0, 0), (1, 0), (2, 0)], "up", (5, 5))  # only a right turn survives
    assert scripted_action(corner) == 2
    into_tail = SnakeEnv.from_state(4, [(0, 0), (0, 1), (1, 1), (1, 0)], "left", (3, 3))  # only the tail's cell is free
    assert scripted_action(into_tail) == 0
    assert not into_tail.step(0)[2]
    wall_ahead = SnakeEnv.from_state(10, [(0, 5), (1, 5), (2, 5)], "up", (0, 0))
    assert scripted_action(wall_ahead) != 1
    for body in ([(2, 2), (2, 3)], [(2, 2)]):  # snakes too short for a neck still never reverse or crash
        short = SnakeEnv.from_state(6, body, "left", (2, 5))
        assert not short.step(scripted_action(short))[2]


def test_scripted_player_avoids_a_dead_end_food_pocket():
    # The food lies in a two-cell pocket closed by the snake's own neck: the shortest path (two left turns)
    # eats it and then has no way out before the body frees. Straight (into the tail's cell) or right are safe.
    body = [(2, 2), (2, 3), (2, 4), (3, 4), (4, 4), (4, 3), (4, 2), (4, 1), (3, 1), (2, 1)]
    env = SnakeEnv.from_state(7, body, "left", (3, 3))
    greedy = env.clone()
    greedy.step(0)
    assert greedy.step(0)[1] == 1.0 and all(greedy.clone().step(a)[2] for a in range(3)), "the pocket is a trap"
    assert scripted_action(env) != 0
    for _ in range(40):  # and the way it chose keeps the snake alive
        _, _, terminated, truncated, info = env.step(scripted_action(env))
        assert not terminated or info["won"]
        if truncated:
            break


def test_scripted_player_never_picks_a_fatal_move_when_a_safe_one_exists():
    rng = np.random.default_rng(0)
    batch = SnakeBatch(16, 6, seeds=np.arange(16), starve_steps=10_000)
    checked = 0
    for _ in range(120):
        actions = np.ones(16, dtype=np.int64)
        for i in np.flatnonzero(~batch.done):
            fatal = _fatal(batch, i)
            choice = scripted_action(batch, int(i))
            if not fatal.all():
                assert not fatal[choice], f"game {i} chose a fatal move with a safe one available"
                checked += 1
            safe = np.flatnonzero(~fatal)
            random_move = int(rng.choice(safe)) if len(safe) else 1
            actions[i] = random_move if rng.random() < 0.3 else choice  # mix in random moves for odd positions
        batch.step(actions)
    assert checked > 500


def test_perturbed_demonstrations_replay_with_their_forced_moves_unrecorded():
    """A perturbed demonstration (perturb.py) is the teacher's game with 3 random safe moves forced on it at a drawn
    move: replayed from its seed, the recorded moves and the forced ones give back every recorded state and the
    final score, and the forced moves themselves are not in the data (they are nobody's choice)."""
    from snake_mc.game.perturb import FORCED_MOVES, forced_moves, forcing_now, perturbations

    seed = 3
    data = record_scripted(4, grid_size=6, seed=seed, perturbed_share=1.0)
    validate_dataset(data, "perturbed", grid_size=6)
    forced_from = perturbations(seed, 0, 4, 1.0)
    forced_in_all = 0
    for episode in range(4):
        rows = np.flatnonzero(data["episode"] == episode)
        game = SnakeBatch(1, 6, seeds=[seed + episode])
        k = move = 0
        while not game.done[0]:
            if forcing_now(forced_from[episode : episode + 1], move)[0]:
                action = forced_moves(game, np.array([0]), np.array([episode]), seed, move)[0]
                forced_in_all += 1
            else:
                for key in ("ttl", "head", "direction", "food", "since_food"):
                    np.testing.assert_array_equal(game.export_states()[key][0], data[key][rows[k]])
                action = data["actions"][rows[k]]
                k += 1
            game.step(np.array([action]))
            move += 1
        assert k == len(rows) and game.score[0] == data["episode_scores"][episode]
    assert forced_in_all >= FORCED_MOVES, "no game lived to its forced moves"
