"""Exact search for the last few cells: a plan that eats the apple and can still fill the board, or none.

Late in a game a long snake follows its tail round a loop that never passes the food, and a rollout by the policy
does the same: every candidate move shows nothing until the game starves (docs/experiments.md: at the shipped
policy's end, most lost games starved with 2 to 6 cells free). With so few free cells the head has one or two legal
moves at almost every step, so every way of moving can be tried, depth first, within a node budget, up to the
starvation limit: the first plan that eats the apple and leaves the snake able to go on is the answer.

What "able to go on" means after eating, with `L` the new length and `gg` the cells of the board:
- `L == gg`: the board is full.
- `L == gg - 1`: the last apple's cell must touch the head, because a body of gg-1 cells can never have its head
  beside its tail (the cells alternate colours like a chessboard, so every closed loop is even); the head has to
  step onto the apple at once.
- `L == gg - 2`: the two free cells must touch, for the same reason one move later; apart they almost never join.
- otherwise: the head can still catch up with its own retreating body (breadth first, on a time-aware board).

The search is one compiled function; cells are numbered row * g + column, a body cell holds the move from which it
is free (the tail's cell is free from move 1), a free cell 0.
"""

from __future__ import annotations

import numba
import numpy as np

from snake_mc.game.rules import DC, DR, SnakeBatch

# How many free cells make an endgame this search may take on: with more, the tree grows too fast to finish.
MAX_FREE = 6
NODE_BUDGET = 200_000  # positions visited per search: about 20 ms in the worst case on one core


@numba.njit(cache=True, nogil=True)
def _neighbour(cell, d, g):  # noqa: ANN001, ANN202
    r, c = cell // g + DR[d], cell % g + DC[d]
    if r < 0 or r >= g or c < 0 or c >= g:
        return -1
    return r * g + c


@numba.njit(cache=True, nogil=True)
def _can_go_on(free_at, food, m, length, g, seen, frontier, nxt):  # noqa: ANN001, ANN202
    """After eating at `food` on move `m` (the body now `length` + 1 long, not yet grown into `free_at`)."""
    gg = g * g
    grown = length + 1
    if grown >= gg:
        return True
    if grown == gg - 1:
        for d in range(4):
            y = _neighbour(food, d, g)
            if y >= 0 and free_at[y] <= m:
                return True
        return False
    if grown == gg - 2:
        first, second = -1, -1
        for x in range(gg):
            if x != food and free_at[x] < m:  # the tail's cell (free from m) stays: the snake grew
                if first < 0:
                    first = x
                else:
                    second = x
        if first < 0 or second < 0:
            return False
        if abs(first // g - second // g) + abs(first % g - second % g) != 1:
            return False
    # Breadth first from the food over a board where a body cell frees one move later than before (the snake grew):
    # the head escapes once it can enter a cell its body held.
    seen[:] = False
    seen[food] = True
    frontier[0] = food
    size = 1
    t = m
    while size > 0:
        t += 1
        count = 0
        for i in range(size):
            x = frontier[i]
            for d in range(4):
                y = _neighbour(x, d, g)
                if y < 0 or seen[y] or y == food:
                    continue
                body = free_at[y] >= m
                if (free_at[y] + 1 if body else 0) <= t:
                    if body:
                        return True
                    seen[y] = True
                    nxt[count] = y
                    count += 1
        for i in range(count):
            frontier[i] = nxt[i]
        size = count
    return False


@numba.njit(cache=True, nogil=True)
def _plan(free_at, head, direction, length, food, budget, g, order, max_nodes):  # noqa: ANN001, ANN202
    """The first absolute direction of a plan that eats within `budget` moves and can go on, or -1 (none found,
    or the node budget ran out). `order` ranks the root's three relative moves."""
    gg = g * g
    cells = np.empty(budget + 2, np.int64)
    saved = np.empty(budget + 2, np.int64)
    tried = np.zeros(budget + 2, np.int64)
    heading = np.empty(budget + 2, np.int64)
    seen = np.zeros(gg, np.bool_)
    frontier = np.empty(gg, np.int64)
    nxt = np.empty(gg, np.int64)
    cells[0], heading[0] = head, direction
    depth, nodes = 0, 0
    while depth >= 0:
        if tried[depth] >= 3 or depth >= budget:
            tried[depth] = 0
            if depth > 0:
                free_at[cells[depth]] = saved[depth]
            depth -= 1
            continue
        k = tried[depth]
        tried[depth] += 1
        turn = order[k] if depth == 0 else (1, 0, 2)[k]  # below the root: straight first, then left, then right
        d = (heading[depth] + turn + 3) & 3
        y = _neighbour(cells[depth], d, g)
        m = depth + 1
        if y < 0 or free_at[y] > m:
            continue
        nodes += 1
        if nodes > max_nodes:
            break
        if y == food:
            if _can_go_on(free_at, food, m, length, g, seen, frontier, nxt):
                first = cells[1] if depth > 0 else y
                for dd in range(4):
                    if _neighbour(head, dd, g) == first:
                        return dd
            continue
        saved[m] = free_at[y]
        free_at[y] = m + length
        cells[m], heading[m] = y, d
        tried[m] = 0
        depth = m
    # restore the board (the caller's array is a copy, but leave it whole for clarity)
    while depth > 0:
        free_at[cells[depth]] = saved[depth]
        depth -= 1
    return -1


def endgame_moves(games: SnakeBatch, preference: np.ndarray, max_nodes: int = NODE_BUDGET) -> np.ndarray:
    """(N,) relative move (0 left, 1 straight, 2 right) that starts a plan to eat and go on, or -1 per game.

    `preference` (N, 3) orders each game's root moves (the policy's logits): the plan found first follows it."""
    g = games.grid_size
    out = np.full(games.num_games, -1, dtype=np.int64)
    ttl = games.ttl()
    for i in range(games.num_games):
        if games.done[i] or games.food[i] < 0 or g * g - int(games.length[i]) > MAX_FREE:
            continue
        budget = int(games.starve_steps - games.since_food[i])
        if budget < 1:
            continue
        order = np.argsort(-preference[i], kind="stable").astype(np.int64)
        d = _plan(ttl[i].astype(np.int64), int(games.head_r[i] * g + games.head_c[i]), int(games.direction[i]),
                  int(games.length[i]), int(games.food[i]), budget, g, order, int(max_nodes))
        if d >= 0:
            out[i] = (d - int(games.direction[i]) + 1) & 3  # absolute to relative: left 0, straight 1, right 2
    return out
