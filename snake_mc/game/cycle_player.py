"""The greedy proven player: among the moves cycle_proof.py proves safe, the one whose proof reaches the food soonest.

It keeps that proof per game (hidden state, which the facts of cycle_proof.py do not have): the proof's next move
stays proven for ever, so a game, once proven, stays proven. `act_one` returns -1 when nothing is proven; the caller
then plays a fallback, and the kept proof is dropped.
"""

from __future__ import annotations

import numpy as np

from snake_mc.game.cycle_proof import ProofSettings, prove_position
from snake_mc.game.rules import SnakeBatch, neighbour_table


class CyclePlayer:
    """One kept proof (prefix, its length, a cycle's successor array) per game of a batch."""

    def __init__(self, batch: SnakeBatch, settings: ProofSettings = ProofSettings()) -> None:  # noqa: B008
        n = batch.grid_size**2
        self.settings = tuple(settings)
        self.pre = np.zeros((batch.num_games, n + 1), np.int64)
        self.npre = np.zeros(batch.num_games, np.int64)
        self.succ = np.zeros((batch.num_games, n), np.int64)
        self.has_plan = np.zeros(batch.num_games, bool)
        self.stats = np.zeros(3, np.int64)  # completions run, DFS nodes, budget exhaustions

    def act_one(self, batch: SnakeBatch, i: int, ttl_row: np.ndarray) -> int:
        """The relative move for game i (ttl_row: its int64 time-to-live board), or -1 when none is proven."""
        g = batch.grid_size
        n = g * g
        out_npre = np.zeros(1, np.int64)
        out = (np.zeros(3, np.bool_), np.zeros(3, np.int64), np.empty(n + 1, np.int64), out_npre,
               np.empty(n, np.int64), self.stats)
        given = (self.pre[i], int(self.npre[i]), self.succ[i], bool(self.has_plan[i]))
        a = prove_position(ttl_row, int(batch.head_r[i] * g + batch.head_c[i]), int(batch.direction[i]),
                           int(batch.food[i]), int(batch.since_food[i]), int(batch.starve_steps), g, neighbour_table(g),
                           False, given, out, self.settings)
        if a >= 0:  # keep the proof of the move taken, as it stands after the move
            self.pre[i, : out_npre[0]] = out[2][: out_npre[0]]
            self.npre[i] = out_npre[0]
            self.succ[i] = out[4]
            self.has_plan[i] = True
        else:
            self.has_plan[i] = False
        return int(a)
