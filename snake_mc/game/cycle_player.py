"""The greedy proven player: among the moves cycle_proof.py proves safe, the one whose proof reaches the food soonest.

It keeps that proof per game (hidden state, which the facts of cycle_proof.py do not have): the proof's next move
stays proven for ever, so a game, once proven, stays proven. `act_one` and `act` return -1 where nothing is proven;
the caller then plays a fallback, and the kept proof is dropped. It is the search's rollout player
(search/rollouts.py), where a kept proof saves a search at every move.
"""

from __future__ import annotations

import numba
import numpy as np

from snake_mc.game.cycle_proof import NOT_PROVEN, ProofSettings, body_is_chain, given_to_food, move_proofs, prove_position
from snake_mc.game.rules import SnakeBatch, neighbour_table


@numba.njit(cache=True, nogil=True)
def _follow_kept(head, direction, food, since_food, starve, g, nb, pre, npre, succ):  # noqa: ANN001, ANN202, PLR0913
    """The move along a kept proof, advanced in place, when no move can beat it: its way to the food is as short as
    the board's distance (a search would only find ties, and the kept proof wins ties); -1 otherwise."""
    if food < 0:
        return -1
    k = given_to_food(head, food, g * g, pre, npre, succ)
    if k >= NOT_PROVEN or since_food + k >= starve:
        return -1
    if k > abs(head // g - food // g) + abs(head % g - food % g):
        return -1
    nxt = pre[0] if npre > 0 else succ[head]
    for a in range(3):
        if nb[head, (direction + a + 3) & 3] == nxt:
            for i in range(npre - 1):
                pre[i] = pre[i + 1]
            return a
    return -1


@numba.njit(cache=True, nogil=True)
def proven_moves(board, t, length, head_r, head_c, direction, food, since_food, starve, g, nb, rows, games,  # noqa: ANN001, ANN201, PLR0913
                 pre, npre, succ, has_plan, settings, stats, actions):
    """For each k, game rows[k] of the board arrays, whose kept proof is row games[k] of pre/npre/succ/has_plan:
    the greedy proven move to actions[k] (-1 when none), the proof of the move taken kept, in place."""
    n = g * g
    safe = np.zeros(3, np.bool_)
    to_food = np.zeros(3, np.int64)
    out_pre = np.empty(n + 1, np.int64)
    out_npre = np.zeros(1, np.int64)
    out_succ = np.zeros(n, np.int64)
    ttl = np.zeros(n, np.int64)
    seq = np.empty(n, np.int64)
    mpre, mnpre, msucc = move_proofs(n)
    for k in range(rows.shape[0]):
        i, j = rows[k], games[k]
        for x in range(n):
            v = board[i, x] - (t[i] - length[i])
            ttl[x] = v if v > 0 else 0
        given = (pre[j], npre[j], succ[j], has_plan[j])
        head = head_r[i] * g + head_c[i] if 0 <= head_r[i] < g and 0 <= head_c[i] < g else -1
        if has_plan[j] and head >= 0:
            a = _follow_kept(head, direction[i], food[i], since_food[i], starve, g, nb, pre[j], npre[j], succ[j])
            if a >= 0:
                actions[k] = a
                npre[j] = max(npre[j] - 1, 0)
                continue
        a = -1
        if body_is_chain(ttl, head, g, nb, seq) and -1 <= food[i] < n:
            a = prove_position(ttl, head, direction[i], food[i], since_food[i], starve, g, nb, False, given,
                               (safe, to_food, out_pre, out_npre, out_succ, stats, mpre, mnpre, msucc), settings)
        actions[k] = a
        has_plan[j] = a >= 0
        if a >= 0:
            for x in range(out_npre[0]):
                pre[j, x] = out_pre[x]
            npre[j] = out_npre[0]
            for x in range(n):
                succ[j, x] = out_succ[x]


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

    def act(self, batch: SnakeBatch, rows: np.ndarray, games: np.ndarray | None = None) -> np.ndarray:
        """The relative move of each game `rows` of `batch` (its kept proof: row `games`, by default the same), -1
        where none is proven."""
        rows = np.asarray(rows, np.int64)
        games = rows if games is None else np.asarray(games, np.int64)
        actions = np.full(len(rows), -1, np.int64)
        g = batch.grid_size
        if len(rows) and (g * g) % 2 == 0:
            proven_moves(batch.board, batch.t, batch.length, batch.head_r, batch.head_c, batch.direction, batch.food,
                         batch.since_food, int(batch.starve_steps), g, neighbour_table(g), rows, games, self.pre,
                         self.npre, self.succ, self.has_plan, self.settings, self.stats, actions)
        else:
            self.has_plan[games] = False
        return actions

    def copy(self, source: np.ndarray, target: np.ndarray) -> None:
        """Game `target`'s kept proof becomes game `source`'s (rollouts of one move that stand alike)."""
        self.pre[target], self.npre[target] = self.pre[source], self.npre[source]
        self.succ[target], self.has_plan[target] = self.succ[source], self.has_plan[source]

    def act_one(self, batch: SnakeBatch, i: int) -> int:
        """The relative move for game i, or -1 when none is proven."""
        return int(self.act(batch, np.array([i]))[0])
