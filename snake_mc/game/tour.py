"""The board's tour: a fixed Hamiltonian cycle through every cell, and the facts the rules fix about it.

Why: a snake whose body lies along a cycle through every cell, in the cycle's order, can always take the next cell of
the cycle (it is free, or the tail that leaves), so it never dies and reaches any free cell within one lap (fewer
moves than the starvation limit of 2 g^2). Any move to a cell further along the cycle but no further than the tail
keeps that order (`order_keeping_moves`): such a move is proven safe. This module holds only those facts (where the
cycle runs, how far ahead each cell lies, whether the body is in order, which moves keep it); which of the safe moves
to take is a player's choice, made by the scripted player (scripted.py) or by the search, never here, so the encoder
can import this module without seeing any player's answer.

A cycle through every cell exists on a g by g board only for even g; on odd boards `tour_index` is None.
"""

from __future__ import annotations

import numpy as np

from snake_mc.game.rules import SnakeBatch

_TOURS: dict[int, np.ndarray | None] = {}

def tour_index(g: int) -> np.ndarray | None:
    """(g*g,) each cell's place on the tour (0 .. g*g-1), oriented so that a fresh snake (middle row, heading right)
    moves forward along it; None where no tour exists (odd g)."""
    if g not in _TOURS:
        _TOURS[g] = _build_tour(g) if g % 2 == 0 and g >= 2 else None
    return _TOURS[g]


def _build_tour(g: int) -> np.ndarray:
    """Row 0 left to right, then rows 1.. g-1 back and forth over columns 1.. g-1, then up column 0."""
    path = [(0, c) for c in range(g)]
    for r in range(1, g):
        path += [(r, c) for c in (range(g - 1, 0, -1) if r % 2 else range(1, g))]
    path += [(r, 0) for r in range(g - 1, 0, -1)]
    index = np.empty(g * g, dtype=np.int64)
    for k, (r, c) in enumerate(path):
        index[r * g + c] = k
    mid = g // 2
    if (index[mid * g + mid] - index[mid * g + mid - 1]) % (g * g) != 1:
        index = g * g - 1 - index  # the same cycle walked the other way
    return index


def tour_distances(batch: SnakeBatch, index: np.ndarray) -> np.ndarray:
    """(N, g*g) how many steps along the tour each cell lies ahead of each game's head."""
    g = batch.grid_size
    head = batch.head_r * g + batch.head_c
    return (index[None, :] - index[head][:, None]) % (g * g)


def in_tour_order(batch: SnakeBatch, ahead: np.ndarray, ttl: np.ndarray | None = None) -> np.ndarray:
    """(N,) bool: every body cell lies further ahead on the tour than the one that frees before it (tail first).

    Then the cells between the head and the tail, going forward, are all free."""
    n = batch.grid_size**2
    ttl = batch.ttl() if ttl is None else ttl  # the caller's copy, when it has one: the board is read once a move
    order = np.argsort(ttl, axis=1, kind="stable")  # free cells first, then the body tail first, the head last
    ranked = np.take_along_axis(ahead, order, axis=1)
    steps = np.diff(ranked, axis=1)  # steps[:, j] compares sorted positions j and j + 1
    j = np.arange(n - 1)[None, :]
    body = (j >= n - batch.length[:, None]) & (j <= n - 3)  # consecutive pairs from the tail to the neck
    return np.all((steps > 0) | ~body, axis=1)


def order_keeping_moves(batch: SnakeBatch) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For every game: (keeps (N, 3) bool, steps (N, 3) int, in_order (N,) bool).

    `keeps`: the relative move is safe this step and lands further along the tour but no further than the tail, with
    the body in tour order, so the body stays in order and the snake provably never dies after it; and following the
    tour from there reaches the food before the starvation limit (a move past the food costs a lap), so it never
    starves either.
    `steps`: how far along the tour each move's cell lies (0 for a move off the board). `in_order`: a tour exists, the
    game is live and its body lies in tour order. No move is preferred here."""
    n = batch.num_games
    index = tour_index(batch.grid_size)
    if index is None or n == 0:
        return np.zeros((n, 3), bool), np.zeros((n, 3), np.int64), np.zeros(n, bool)
    ahead = tour_distances(batch, index)
    rows = np.arange(n)
    ttl = batch.ttl()
    tail = np.where(ttl == 1, 0, 1).argmin(axis=1)
    to_tail = ahead[rows, tail]
    cell, inside, safe = batch.move_targets()
    steps = np.where(inside, np.take_along_axis(ahead, cell, axis=1), 0)
    in_order = in_tour_order(batch, ahead, ttl) & ~batch.done
    keeps = safe & (steps > 0) & (steps <= to_tail[:, None]) & in_order[:, None]
    if (batch.food >= 0).any():
        to_food = ahead[rows, np.maximum(batch.food, 0)][:, None]
        then_to_food = np.where(steps <= to_food, to_food - steps, to_food - steps + batch.grid_size**2)
        fed_in_time = batch.since_food[:, None] + 1 + then_to_food < batch.starve_steps
        keeps &= fed_in_time | (batch.food < 0)[:, None]
    return keeps, steps, in_order & keeps.any(axis=1)
