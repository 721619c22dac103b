"""The board's tour: a fixed Hamiltonian cycle through every cell, and the facts the rules fix about it.

Why: a snake whose body lies along a cycle through every cell, in the cycle's order, can always take the next cell of
the cycle (it is free, or the tail that leaves), so it never dies and reaches any free cell within one lap (fewer
moves than the starvation limit of 2 g^2). Any move to a cell further along the cycle but no further than the tail
keeps that order (`tour_move_facts`, the rule written once, and `order_keeping_moves` for a batch): such a move is
proven safe. This module holds only those facts (where the
cycle runs, how far ahead each cell lies, whether the body is in order, which moves keep it); which of the safe moves
to take is a player's choice, made by the scripted player (scripted.py) or by the search, never here, so the encoder
can import this module without seeing any player's answer.

A cycle through every cell exists on a g by g board only for even g; on odd boards `tour_index` is None.
"""

from __future__ import annotations

import numba
import numpy as np

from snake_mc.game.rules import SnakeBatch, neighbour_table

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


@numba.njit(cache=True, nogil=True, inline="always")
def tour_move_facts(tour, cell_at, top, ttl, head, food, nbr, d, steps, keeps):  # noqa: ANN001, ANN201
    """The tour rule, written once (the encoder inlines it; `tour_order_facts` runs it for a batch). For the game
    whose cells by time-to-live are `cell_at` (cell_at[v]: the body cell that frees in v moves, the tail at 1, the
    head at `top`), heading `d` on a board with neighbour table `nbr`: steps[a], how far ahead on the tour the cell of
    relative move a lies (-1 for a move that dies at once), and keeps[a], whether the move keeps the body in tour
    order (the body is in order, and the cell lies ahead but no further than the tail). Returns (the body is in tour
    order, steps from the head to the food along the tour, steps to the tail); g*g for a food or tail not there."""
    gg = ttl.shape[0]
    here = tour[head]
    ordered = True
    last = 0
    for v in range(1, top):  # the tail (ttl 1) to the neck (ttl top - 1): each further ahead than the one before
        c = cell_at[v]
        ahead = (tour[c] - here) % gg if c >= 0 else -1
        if ahead <= last:
            ordered = False
            break
        last = ahead
    to_tail = (tour[cell_at[1]] - here) % gg if top > 1 and cell_at[1] >= 0 else gg
    to_food = (tour[food] - here) % gg if food >= 0 else gg
    for a in range(3):
        cell = nbr[head, (d + a + 3) & 3]
        steps[a], keeps[a] = -1, False
        if cell < 0 or ttl[cell] > 1:
            continue
        steps[a] = (tour[cell] - here) % gg
        keeps[a] = ordered and 0 < steps[a] <= to_tail
    return ordered, to_food, to_tail


@numba.njit(cache=True, nogil=True)
def _batch_facts(ttl, length, head, food, direction, tour, nbr, steps, keeps, ordered, to_food):  # noqa: ANN001, ANN202
    """`tour_move_facts` for every game of a batch (ttl (N, g*g) as SnakeBatch.ttl gives it)."""
    gg = ttl.shape[1]
    cell_at = np.full(gg + 1, -1, np.int64)
    for i in range(ttl.shape[0]):
        cell_at[:] = -1
        for c in range(gg):
            if ttl[i, c] > 0:
                cell_at[ttl[i, c]] = c
        ordered[i], to_food[i], _ = tour_move_facts(tour, cell_at, length[i], ttl[i], head[i], food[i], nbr,
                                                    direction[i], steps[i], keeps[i])


def tour_order_facts(batch: SnakeBatch) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For every game: (keeps_order (N, 3) bool, steps (N, 3) int, in_order (N,) bool, to_food (N,) int), the
    batch's `tour_move_facts`; all False, -1 and g*g on a board without a tour or in a finished game."""
    n, g = batch.num_games, batch.grid_size
    keeps, steps = np.zeros((n, 3), bool), np.full((n, 3), -1, np.int64)
    in_order, to_food = np.zeros(n, bool), np.full(n, g * g, np.int64)
    index = tour_index(g)
    if index is None or n == 0:
        return keeps, steps, in_order, to_food
    _batch_facts(batch.ttl(), batch.length.astype(np.int64), batch.head_r * g + batch.head_c, batch.food,
                 batch.direction, index, neighbour_table(g), steps, keeps, in_order, to_food)
    live = ~batch.done
    return keeps & live[:, None], steps, in_order & live, to_food


def order_keeping_moves(batch: SnakeBatch, facts: tuple | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For every game: (keeps (N, 3) bool, steps (N, 3) int, in_order (N,) bool).

    `keeps`: the relative move keeps the body in tour order (`tour_move_facts`), so the snake provably never dies
    after it; and following the tour from there reaches the food before the starvation limit (a move past the food
    costs a lap), so it never starves either.
    `steps`: how far along the tour each move's cell lies (-1 for a move that dies at once). `in_order`: a tour exists,
    the game is live, its body lies in tour order and some move keeps it. No move is preferred here. `facts`: the
    batch's `tour_order_facts`, when the caller has them already."""
    keeps, steps, in_order, to_food = tour_order_facts(batch) if facts is None else facts
    if (batch.food >= 0).any():
        ahead = to_food[:, None]
        then_to_food = np.where(steps <= ahead, ahead - steps, ahead - steps + batch.grid_size**2)
        fed_in_time = batch.since_food[:, None] + 1 + then_to_food < batch.starve_steps
        keeps &= fed_in_time | (batch.food < 0)[:, None]
    return keeps, steps, in_order & keeps.any(axis=1)
