"""The deeper look for a snake the rollouts cannot help: one circling its own body with no apple in sight.

With few cells free, the endgame search (endgame.py) tries every way to the apple; once the snake has gone
`DETOUR_AFTER` moves hungry, `DETOUR_ROLLOUTS` sampled rollouts per candidate move hunt for a detour to the food up to
the starvation limit (`_detours`), and the way found is followed move by move (a `PlanBook` the caller owns and
passes in, one per stream of searches such as a self-play worker's games) instead of searched again.
`look_deeper` is what the search (rollouts.py) calls; `gumbel` (the rollouts' sampling noise) and
`split_last_cells` (a board that can no longer be filled) live here because both modules use them, and this one is
below the search.
"""

from __future__ import annotations

import numpy as np

from snake_mc.common.constants import DEFAULT_DETOURS
from snake_mc.game.observation import trapped
from snake_mc.game.rules import DC, DR, SnakeBatch, mix64
from snake_mc.learn.network import SnakePolicy
from snake_mc.search.endgame import MAX_FREE, endgame_moves

# Rollouts per candidate move of the detour search (constants.DEFAULT_DETOURS, where the measurements are), run for a
# snake that has gone DETOUR_AFTER moves without an apple while no rollout found one it survives.
DETOUR_ROLLOUTS = DEFAULT_DETOURS
DETOUR_AFTER = 20
# A detour search that found nothing is tried again this many moves later: a circling snake's position changes slowly,
# and searching a hopeless one at every move cost most of the detours' time.
DETOUR_RETRY = 10
_DETOUR_SALT = np.uint64(0x5DEECE66D)


def gumbel(keys: np.ndarray, step: int) -> np.ndarray:
    """(N, 3) standard Gumbel noise, a pure function of each rollout's key and the move number."""
    with np.errstate(over="ignore"):
        bits = mix64(keys[:, None] ^ mix64(np.uint64(step) * np.uint64(3) + np.arange(3, dtype=np.uint64)))
    uniform = ((bits >> np.uint64(11)).astype(np.float64) + 0.5) * (1.0 / 9007199254740992.0)
    return -np.log(-np.log(uniform))


def look_deeper(games: SnakeBatch, policy: SnakePolicy, actions: np.ndarray, stuck: np.ndarray,  # noqa: PLR0913
                root_logits: np.ndarray, game_keys: np.ndarray, detour_rollouts: int, endgame: bool,
                book: PlanBook) -> int:
    """For the stuck games, the endgame search's plan (few cells free) or a detour (hungry) replaces the choice in
    `actions`, in place; returns the extra rollout moves played."""
    if endgame and stuck.any():
        rows = np.flatnonzero(stuck & (games.grid_size**2 - games.length <= MAX_FREE))
        if len(rows):
            planned = endgame_moves(games.take(rows), root_logits[rows])
            actions[rows[planned >= 0]] = planned[planned >= 0]
            stuck[rows[planned >= 0]] = False
    hungry = np.flatnonzero(stuck & (games.since_food >= DETOUR_AFTER)) if detour_rollouts > 0 else np.zeros(0, np.int64)
    followed = np.array([book.follow(games, i) for i in hungry], dtype=np.int64)
    actions[hungry[followed >= 0]] = followed[followed >= 0]
    hungry = hungry[(followed < 0) & np.array([book.due(games, i) for i in hungry], dtype=bool)]
    if not len(hungry):
        return 0
    found, plans, extra = _detours(games.take(hungry), policy, detour_rollouts, game_keys[hungry] ^ _DETOUR_SALT)
    for j, plan in enumerate(plans):
        if plan is not None:
            actions[hungry[j]] = plan[0]
            book.keep(games, int(hungry[j]), plan)
        else:
            book.rest(games, int(hungry[j]))
    return extra


def split_last_cells(games: SnakeBatch) -> np.ndarray:
    """(N,) bool: two cells are left free and they do not touch, which almost always ends in starvation.

    A body of gg-2 cells following its tail keeps the same two cells free. To fill the board the head must eat one
    and step at once into the other (a body of gg-1 cells can never have its head beside its tail: the cells
    alternate colours like a chessboard, so every closed loop is even), so the two must touch when it eats. Apart,
    the free cell moves only when the head takes it instead of the tail's cell, and then it jumps to where the tail
    was: measured on the shipped policy, the search found no way out of one such position in 200 moves."""
    g = games.grid_size
    out = np.zeros(games.num_games, dtype=bool)
    rows = np.flatnonzero(games.length == g * g - 2)
    if len(rows) == 0:
        return out
    free = games.ttl()[rows] == 0
    two = free.sum(axis=1) == 2
    first = free.argmax(axis=1)
    second = g * g - 1 - free[:, ::-1].argmax(axis=1)
    dr, dc = np.abs(first // g - second // g), np.abs(first % g - second % g)
    out[rows] = two & (dr + dc != 1)
    return out


def _fed_safely(games: SnakeBatch) -> np.ndarray:
    """(N,) bool for games that have just eaten: the board is full, or the snake can still reach its own body.

    With one cell left (the last apple's), the head must step onto the apple at once: a body of gg-1 cells can never
    have its head beside its tail (the board's cells alternate colours like a chessboard, so every closed loop is
    even), so no move but the apple is safe, and the encoder's escape test would wrongly call a won board trapped."""
    g = games.grid_size
    last = games.length >= g * g - 1
    ok = games.won.copy()
    rest = np.flatnonzero(~ok & ~last)
    if len(rest):
        ok[rest] = ~trapped(games.take(rest)) & ~split_last_cells(games.take(rest))
    near = np.flatnonzero(~ok & last & (games.food >= 0))
    if len(near):
        food = games.food[near]
        ok[near] = np.abs(food // g - games.head_r[near]) + np.abs(food % g - games.head_c[near]) == 1
    return ok


def _detours(games: SnakeBatch, policy: SnakePolicy, S: int, keys: np.ndarray) -> tuple[np.ndarray, list, int]:
    """Of S rollouts per candidate move, (G, 3) how many reach an apple before the game's starvation limit and leave
    the snake able to go on after eating (`_fed_safely`), counted up to the move where the first did (the game's
    search stops there); per game the moves of one of those shortest rollouts, of the move with most (None when
    none did); and the moves simulated.

    Late in a game the greedy policy follows its tail round a loop that never passes the food, and so does every
    greedy rollout: all candidate moves show nothing. The food is usually reachable by a detour that takes in the
    free cells (measured on 49 starved games of models/snake10.pt: sampled rollouts found one from 57 percent of
    their hungry positions). These rollouts sample the policy at temperature 1 among the moves that do not die at
    once, up to the starvation limit, and stop at the first apple."""
    n, per = games.num_games, 3 * S
    live = games.repeat(per)
    with np.errstate(over="ignore"):
        live.reseed(mix64(np.repeat(keys, per) + np.tile(np.arange(per, dtype=np.uint64), n)))
    noise_keys = live.rng_key.copy()
    found = np.zeros(n * per, dtype=bool)
    solved = np.zeros(n, dtype=bool)
    length = np.zeros(n * per, dtype=np.int64)  # moves to the apple of each rollout that found one
    steps = [np.tile(np.repeat(np.arange(3, dtype=np.int8), S), n)]  # the moves of every rollout, move by move
    owners = [np.arange(n * per)]
    ids = owners[0]
    moves = int(np.count_nonzero(~live.done))
    _, _, _, ate = live.step(steps[0].astype(np.int64))
    step = 0
    while True:
        if ate.any():
            fed = np.flatnonzero(ate)
            found[ids[fed]] = _fed_safely(live.take(fed))
            length[ids[fed]] = step + 1
            solved[ids[fed][found[ids[fed]]] // per] = True
        # A game's search ends at its first way found (the shortest): the rollouts still circling would cost the most.
        keep = np.flatnonzero(~live.done & ~ate & ~solved[ids // per])
        if len(keep) == 0:
            break
        if len(keep) < len(ids):
            live, ids = live.take(keep), ids[keep]
        step += 1
        logits, _ = policy.evaluate_batch(live)
        _, _, safe = live.move_targets()
        moves += len(ids)
        choice = (np.where(safe, logits, -np.inf) + gumbel(noise_keys[ids], step)).argmax(axis=1)
        steps.append(choice.astype(np.int8))
        owners.append(ids)
        _, _, _, ate = live.step(choice)
    counts = found.reshape(n, 3, S).sum(axis=2)
    plans: list = [None] * n
    for g in np.flatnonzero(counts.max(axis=1) > 0):
        best = np.flatnonzero(counts[g] == counts[g].max())
        rows = g * per + (best[:, None] * S + np.arange(S)).ravel()
        rows = rows[found[rows]]
        r = int(rows[np.argmin(length[rows])])
        plans[g] = np.array([steps[k][np.searchsorted(owners[k], r)] for k in range(int(length[r]))], dtype=np.int64)
    return counts, plans, moves


class PlanBook:
    """The detours found, followed move by move instead of searched again at every move.

    Until the snake eats, a game is deterministic (new food appears only then), so a rollout that reached the apple
    and could go on will do so again when its moves are replayed. A plan is kept under the game's identity (its food
    stream's key and position) with the move count, head and heading it started from. It is followed only while the
    game asks at every move, has not eaten, and its head and heading are where the plan's moves put them; a game that
    left it (a move chosen otherwise, a move it did not ask about) drops it and searches afresh. The book is state in
    the open: the caller makes one for a stream of searches of the same games by the same policy (a self-play
    worker's games) and passes it to every search of them; a search given none remembers nothing."""

    LIMIT = 100_000

    def __init__(self) -> None:
        self.plans: dict[tuple[int, int], list] = {}
        self.waits: dict[tuple[int, int], int] = {}  # the move from which a failed search may be tried again

    @staticmethod
    def _key(games: SnakeBatch, i: int) -> tuple[int, int]:
        """Game i's identity: its food stream's key and position (which moves on eating)."""
        return int(games.rng_key[i]), int(games.rng_ctr[i])

    def follow(self, games: SnakeBatch, i: int) -> int:
        """The plan's move for game i now, or -1 when it has none that still holds."""
        key = self._key(games, i)
        entry = self.plans.pop(key, None)
        if entry is None:
            return -1
        plan, t0, r, c, d, asked, length = entry
        t, k = int(games.t[i]), int(games.t[i]) - t0
        if t != asked + 1 or not 0 < k < len(plan) or length != int(games.length[i]):
            return -1
        for a in plan[:k]:
            d = (d + int(a) + 3) & 3
            r, c = r + int(DR[d]), c + int(DC[d])
        if (r, c, d) != (int(games.head_r[i]), int(games.head_c[i]), int(games.direction[i])):
            return -1
        entry[5] = t
        self.plans[key] = entry
        return int(plan[k])

    def due(self, games: SnakeBatch, i: int) -> bool:
        """Whether game i may be searched for a detour now: not within `DETOUR_RETRY` moves of a search that failed."""
        until = self.waits.get(self._key(games, i))
        return until is None or not 0 <= until - int(games.t[i]) < DETOUR_RETRY

    def rest(self, games: SnakeBatch, i: int) -> None:
        """Game i's detour search found nothing: wait `DETOUR_RETRY` moves before the next."""
        if len(self.waits) >= self.LIMIT:
            self.waits.clear()
        self.waits[self._key(games, i)] = int(games.t[i]) + DETOUR_RETRY

    def keep(self, games: SnakeBatch, i: int, plan: np.ndarray) -> None:
        """Remember `plan`, found by the rollouts for game i as it is now (its first move is made now)."""
        if len(self.plans) >= self.LIMIT:
            self.plans.clear()
        t = int(games.t[i])
        self.plans[self._key(games, i)] = [plan, t, int(games.head_r[i]), int(games.head_c[i]),
                                           int(games.direction[i]), t, int(games.length[i])]

