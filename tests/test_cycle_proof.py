"""The proofs (cycle_proof.py) and the proven player (cycle_player.py): proofs are Hamiltonian cycles holding the
body in order, moves into pockets are not proven, and the player fills small boards without a fallback."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np

from snake_mc.game.cycle_player import CyclePlayer
from snake_mc.game.cycle_proof import NOT_PROVEN, prove_moves
from snake_mc.game.rules import SnakeBatch, SnakeEnv


def test_fresh_game_every_move_proven_with_its_distance() -> None:
    batch = SnakeBatch(1, 10, seeds=[3])  # head (5, 5) heading right, food (9, 2)
    safe, to_food = prove_moves(batch)
    assert safe.tolist() == [True, True, True]
    assert to_food.tolist() == [9, 9, 7]  # up, right, down: the Manhattan distances plus the move itself


def test_pocket_and_wall_not_proven() -> None:
    body = [(2, 0), (2, 1), (2, 2), (1, 2), (0, 2), (0, 3), (1, 3), (2, 3), (3, 3), (4, 3), (5, 3), (5, 4)]
    env = SnakeEnv.from_state(6, body, "left", (5, 0))
    safe, to_food = prove_moves(env.game)
    # Up enters a 4-cell pocket (a dead end), ahead is the wall. Down is safe in fact, but the body walls the pocket
    # off from the head's side, so no cycle holds the body in order: the proof is sufficient, not necessary.
    assert safe.tolist() == [False, False, False]
    assert (to_food == NOT_PROVEN).all()
    env = SnakeEnv.from_state(6, body[:8], "left", (5, 0))  # a shorter body: the open side joins the tail
    safe, to_food = prove_moves(env.game)
    assert safe.tolist() == [True, False, False] and to_food[0] == 5  # down, then 4 more to the food


def _check_cycle(player: CyclePlayer, batch: SnakeBatch, i: int) -> None:
    g = batch.grid_size
    n = g * g
    succ, seen, cur = player.succ[i], set(), 0
    for _ in range(n):
        seen.add(cur)
        nxt = int(succ[cur])
        assert abs(nxt // g - cur // g) + abs(nxt % g - cur % g) == 1
        cur = nxt
    assert cur == 0 and len(seen) == n
    body = np.argsort(batch.ttl()[i])[n - int(batch.length[i]):]
    assert all(succ[a] == b for a, b in zip(body[:-1], body[1:]))


def test_player_fills_6x6_boards_and_keeps_valid_cycles() -> None:
    batch = SnakeBatch(6, 6, seeds=np.arange(100, 106))
    player = CyclePlayer(batch)
    while not batch.done.all():
        actions = np.ones(batch.num_games, np.int64)
        live = np.flatnonzero(~batch.done)
        for i in live:
            a = player.act_one(batch, int(i))
            assert a >= 0, "the kept proof makes a fallback unnecessary"
            actions[i] = a
        batch.step(actions)
        for i in live:
            if not batch.done[i] and player.npre[i] == 0:
                _check_cycle(player, batch, int(i))
    assert batch.won.all()
    assert batch.t.sum() / batch.score.sum() < 6.3  # the tour teacher's 6.30 moves an apple on 6 by 6


def test_the_proofs_are_facts_that_import_no_player() -> None:
    """cycle_proof.py says which moves are proven and how far the food is along each proof; which move to take is
    cycle_player.py's, so the encoder could import the facts without a player's rule."""
    tree = ast.parse((Path(__file__).resolve().parents[1] / "snake_mc" / "game" / "cycle_proof.py").read_text())
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    assert imported <= {"__future__", "collections", "typing", "numba", "numpy", "snake_mc.game.rules",
                        "snake_mc.game.proof_memory"}, imported  # the memory keeps proofs, it chooses nothing
