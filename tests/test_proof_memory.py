"""proof_memory.py: a game keeps the proof of the move it played, so a move once proven stays proven (issue 24)."""

from __future__ import annotations

import numpy as np
import pytest

from snake_mc.game.observation import proof_facts
from snake_mc.game.rules import SnakeBatch


def _play_random_proven_moves(games: SnakeBatch, seed: int) -> tuple[int, int]:
    """Every game to its end, each move a random one among those the proof facts prove (a random safe one where none
    is proven): a stress of the memory, since a random proven move is rarely the one the search would find again.
    Returns (positions with nothing proven, positions played)."""
    rng = np.random.default_rng(seed)
    dark = played = 0
    while not games.done.all():
        live = np.flatnonzero(~games.done)
        now = games.take(live)
        proven = proof_facts(now)[:, :3] > 0.5
        games.keep_memory_of(live, now)
        _, _, safe = now.move_targets()
        choice = np.where(proven.any(axis=1)[:, None], proven, safe)
        actions = np.ones(games.num_games, np.int64)
        actions[live] = (rng.random(choice.shape) * choice).argmax(axis=1)
        dark += int((~proven.any(axis=1)).sum())
        played += len(live)
        games.step(actions)
    return dark, played


def test_a_game_that_plays_only_proven_moves_stays_proven_and_fills_its_board() -> None:
    """With the memory, every position after a proven move has a proven move (the kept proof's next), so a player
    of proven moves, however chosen, fills every board. Without it, the bounded search loses the proof: measured
    here, the same player then meets positions with nothing proven (the check below that the test can fail)."""
    games = SnakeBatch(6, 10, seeds=np.arange(6) + 31)
    dark, played = _play_random_proven_moves(games, seed=1)
    assert dark == 0, f"{dark} of {played} positions had nothing proven"
    assert games.won.all()
    forgetful = SnakeBatch(6, 10, seeds=np.arange(6) + 31)
    forgetful.memory = None
    dark, played = _play_random_proven_moves(forgetful, seed=1)
    assert dark > 0, "without the memory the search finds every proof again: this test would prove nothing"


def test_the_memory_keeps_only_the_proof_of_a_move_played_just_after_its_facts() -> None:
    games = SnakeBatch(3, 8, seeds=[1, 2, 3])
    proof_facts(games)
    games.step(np.array([1, 1, 1]))
    assert (games.memory.at == games.t).all(), "each game keeps the proof of its move, for its new time"
    games.step(np.array([1, 0, 2]))  # no facts computed for this move: nothing is known about it
    assert (games.memory.at == -1).all()
    proof_facts(games)
    kept = games.take(np.array([2, 0]))
    kept.step(np.array([1, 1]))
    assert (kept.memory.at == kept.t).all(), "a taken copy carries its games' memory"
    games.reset_games(np.array([0]), np.array([9]))
    assert games.memory.pending_at[0] == -1 and games.memory.at[0] == -1
    assert games.repeat(2).memory is None, "a search's rollouts keep their proofs in their own player"


def test_a_mirrored_look_does_not_replace_the_pending_proofs() -> None:
    games = SnakeBatch(2, 8, seeds=[4, 5])
    plain = proof_facts(games)
    pending = games.memory.pending_succ.copy()
    proof_facts(games, mirror=True)
    np.testing.assert_array_equal(games.memory.pending_succ, pending)
    assert plain[:, :3].any(axis=1).all()


@pytest.mark.parametrize("grid", [6, 8])
def test_kept_proofs_hold_on_small_boards(grid: int) -> None:
    games = SnakeBatch(4, grid, seeds=np.arange(4) + 100)
    dark, _ = _play_random_proven_moves(games, seed=2)
    assert dark == 0 and games.won.all()


def test_a_network_playing_alone_keeps_the_proof_of_its_move() -> None:
    """The policy's own input computes the facts, so a game played by the network alone (evaluation, the replay, the
    off-path games) keeps the proof of each proven move it plays, with no call of its own."""
    from snake_mc.learn.network import build_policy

    policy = build_policy({"grid_size": 8, "hidden": 16, "layers": 1})
    games = SnakeBatch(3, 8, seeds=[7, 8, 9])
    for _ in range(5):
        before = games.take(np.arange(3))
        actions = policy.act(games)
        proven = proof_facts(before)[:, :3] > 0.5
        games.step(actions)
        np.testing.assert_array_equal(games.memory.at == games.t, proven[np.arange(3), actions])


def test_a_search_on_a_copy_hands_its_proofs_back() -> None:
    games = SnakeBatch(4, 8, seeds=np.arange(4))
    live = np.array([1, 3])
    now = games.take(live)
    proof_facts(now)
    games.keep_memory_of(live, now)
    games.step(np.ones(4, np.int64))
    assert (games.memory.at[live] == games.t[live]).all() and (games.memory.at[[0, 2]] == -1).all()
