"""The board's tour: a fixed Hamiltonian cycle through every cell, and the tour player that fills the board with it.

Why: a snake whose body lies along a cycle through every cell, in the cycle's order, can always take the next cell of
the cycle (it is free, or the tail that leaves), so it never dies and reaches any free cell within one lap (fewer
moves than the starvation limit of 2 g^2). It may also take a shortcut, a neighbour further along the cycle, as long
as the cell does not lie past its tail or past the food: the body stays in the cycle's order. It takes shortcuts only
while it covers less than half the board (`SHORTCUTS_BELOW`). That player fills
every board (1,000 of 1,000 on 10 by 10, docs/experiments.md), which no shortest-path player does, so it is the
teacher. The encoder shows the network the same facts per move (observation.py), so the teacher's choice is a
function of what the network sees.

A cycle through every cell exists on a g by g board only for even g; on odd boards `tour_index` is None and the
scripted player falls back to its shortest-path rule.
"""

from __future__ import annotations

import numpy as np

from snake_mc.game.rules import SnakeBatch

_TOURS: dict[int, np.ndarray | None] = {}
# Shortcuts are taken only while the snake covers less than this share of the board. A shortcut leaves the cells it
# skips behind the head, reachable again only after a lap, and late in the game the food lands in them: with
# shortcuts all game the player took 23.8 moves an apple; with none after half the board, 14.8 (200 games on 10 by
# 10, every board filled either way; 45 percent, 15.0; 55 percent, 14.9; docs/experiments.md).
SHORTCUTS_BELOW = 0.5


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


def tour_moves(batch: SnakeBatch) -> tuple[np.ndarray, np.ndarray]:
    """The tour player's relative move for every game, and whether the rule applies (a tour exists and the body is
    in tour order). Among the moves that keep the order (at most as far ahead as the tail, which leaves) and do not
    pass the food, the one furthest ahead; once the snake covers `SHORTCUTS_BELOW` of the board, the next cell of the
    tour."""
    n = batch.num_games
    index = tour_index(batch.grid_size)
    if index is None or n == 0:
        return np.ones(n, dtype=np.int64), np.zeros(n, dtype=bool)
    ahead = tour_distances(batch, index)
    rows = np.arange(n)
    ttl = batch.ttl()
    tail = np.where(ttl == 1, 0, 1).argmin(axis=1)
    to_tail = ahead[rows, tail]
    to_food = np.where(batch.food >= 0, ahead[rows, np.maximum(batch.food, 0)], batch.grid_size**2)
    cell, _, safe = batch.move_targets()
    step = np.take_along_axis(ahead, cell, axis=1)
    keeps = safe & (step > 0) & (step <= to_tail[:, None]) & (step <= to_food[:, None])
    keeps &= (step == 1) | (batch.length[:, None] < SHORTCUTS_BELOW * batch.grid_size**2)
    value = np.where(keeps, step, -1)
    applies = in_tour_order(batch, ahead, ttl) & (value.max(axis=1) > 0)
    return value.argmax(axis=1).astype(np.int64), applies
