"""What the network sees: every game of a `SnakeBatch` turned into one egocentric feature vector, compiled.

The encoder runs on every rollout move of the search, so with the network it is the search's cost. It is one
numba-compiled pass per game (no numpy call per feature): three planes of g*g cells turned so the snake heads up
(body time-to-live over length, head, food), two scalars (length and hunger), then for each relative move (left,
straight, right) what it leads to, which a small MLP cannot work out from the raw board:

- whether it dies at once;
- the moves to the food through it, and whether it starts a shortest path to the food;
- whether the head can then still reach its own retreating body (follow the tail, the heart of a safe Snake
  strategy), and how many moves that takes;
- the share of the free board reachable when it cannot;
- for a move on a shortest path to the food, whether the snake could still reach its body after eating there;
- on boards with a tour (`tour.py`, even sizes): whether it keeps the body in tour order (no further ahead on the tour
  than the tail: proven safe), whether it stays short of the food on the tour, and how far ahead on the tour it goes;
  with, for the whole position, whether the body is in tour order and how far ahead the food and the tail lie;
- last, the proof block (encoder v6, `cycle_proof.py`): for each relative move whether it is proven safe (after it, a
  cycle through the whole board holds the body in order, so the snake can never die nor starve), and the moves to
  the food along its shortest proof. Proven on the board turned to the snake's view, so a position and its turned or
  mirrored copies get the same facts. Without this block a network imitating the proven player filled 25 to 51 of 200
  boards; with it, 160 to 189 (docs/experiments.md). A game played move by move also gives the search the proof of
  the move it last played (proof_memory.py, kept by the batch): the move along it stays proven, where a bounded
  search from scratch lost it often enough to cost the v6 network a tenth of its boards (90.0 against 99.5 percent of
  200, the same network).

Facts, not answers: every input is fixed by the rules and the board's fixed tour, none is a move some player would
pick (encoder v4 carried "the tour player's choice", and its network copied that input: 0 of 300 boards filled with it
zeroed). The encoder imports the rules, the tour's geometry and the proof, never a player (tests/test_layers.py).

They come from breadth-first searches on a time-aware board: a body cell counts as free from the
move its tail leaves it, exactly as the game frees it. Last come the food's position ahead of and to the right of
the head, in board widths. The searches advance a whole layer at a time on bit sets of the board (`words` 64-bit
integers a set); boards of at most two words (up to 11 by 11) have a version that holds every set in registers.
Measured on a 2-core AMD EPYC, 10 by 10, through `encode`: 0.55 microseconds a rollout position (0.64 before the
body's cells were visited one set bit at a time and the int32 board went in uncopied; about 1.4 before the register
searches), against 1.65 for the default network's forward pass (docs/experiments.md). The proof block costs far more,
about 100 microseconds a position (a bounded depth-first search), which is why the search's rollouts follow kept
proofs instead of asking the network (search/rollouts.py) and training proves each position once.
"""

from __future__ import annotations

import numba
import numpy as np

from snake_mc.common.constants import MAX_GRID
from snake_mc.game.cycle_proof import PROOF_FACTS, cycle_facts
from snake_mc.game.rules import SnakeBatch, neighbour_table
from snake_mc.game.tour import tour_index, tour_move_facts

ENCODER_NAME = "ego-board-v6-proofs"

FEATURES_PER_MOVE = 7
NUM_MOVE_FEATURES = 3 * FEATURES_PER_MOVE + 2
TOUR_FEATURES_PER_MOVE = 3  # keeps the tour order, stays short of the food, steps ahead / g^2
NUM_TOUR_FEATURES = 3 * TOUR_FEATURES_PER_MOVE + 3  # then: body in tour order, food ahead / g^2, tail ahead / g^2
MIRROR_ACTIONS = np.array([2, 1, 0])  # left <-> right under a mirror
_DR = np.array([-1, 0, 1, 0], dtype=np.int64)
_DC = np.array([0, 1, 0, -1], dtype=np.int64)
_TABLES: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = {}


def obs_size(grid_size: int) -> int:
    return 3 * grid_size * grid_size + 2 + NUM_MOVE_FEATURES + NUM_TOUR_FEATURES + PROOF_FACTS


def _tour_table(g: int) -> np.ndarray:
    """Each cell's place on the tour, or an empty array where the board has none (the tour block stays zero)."""
    index = tour_index(g)
    return np.zeros(0, np.int64) if index is None else index


def rotation_tables(g: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For each heading d: view->board cell permutations (plain and mirrored) and their inverses (board->view).

    The view is the board turned so the heading points up: np.rot90 by d quarter turns (d = 0 up, 1 right, ...).
    """
    if g not in _TABLES:
        cells = np.arange(g * g).reshape(g, g)
        rot = np.stack([np.rot90(cells, d).ravel() for d in range(4)])
        rot_m = np.stack([np.fliplr(np.rot90(cells, d)).ravel() for d in range(4)])
        _TABLES[g] = (rot, np.argsort(rot, axis=1), rot_m, np.argsort(rot_m, axis=1))
    return _TABLES[g]


_ZERO, _ONE, _63 = np.uint64(0), np.uint64(1), np.uint64(63)
_M1, _M2, _M4, _H01 = (np.uint64(x) for x in (0x5555555555555555, 0x3333333333333333, 0x0F0F0F0F0F0F0F0F, 0x0101010101010101))
_MASKS: dict[int, np.ndarray] = {}


def board_masks(g: int) -> np.ndarray:
    """(3, words) bit sets of the board (bit c of word c // 64 is cell c): every cell, the cells a step right may
    enter (not column 0), and the cells a step left may enter (not the last column)."""
    if g not in _MASKS:
        words = (g * g + 63) // 64
        masks = np.zeros((3, words), dtype=np.uint64)
        for cell in range(g * g):
            bit = np.uint64(1) << np.uint64(cell % 64)
            for row, allowed in enumerate((True, cell % g != 0, cell % g != g - 1)):
                if allowed:
                    masks[row, cell // 64] |= bit
        _MASKS[g] = masks
    return _MASKS[g]


@numba.njit(cache=True, nogil=True)
def _popcount(x):  # noqa: ANN001, ANN202
    """Bits set in a 64-bit word, by halving sums (numba offers no popcount of its own)."""
    x = x - ((x >> _ONE) & _M1)
    x = (x & _M2) + ((x >> np.uint64(2)) & _M2)
    x = (x + (x >> np.uint64(4))) & _M4
    return (x * _H01) >> np.uint64(56)


@numba.njit(cache=True, nogil=True)
def _step_layer(src, i, masks, shift, back_shift, allowed, j, visited, dst, k):  # noqa: ANN001, ANN202
    """dst[k] = the cells one step from src[i] that are in allowed[j] and not `visited`; returns whether any are.

    Rows are passed as (array, index) rather than as slices: a slice is a new array object on every layer."""
    words = visited.shape[0]
    found = _ZERO
    for w in range(words):
        here = src[i, w]
        below = src[i, w - 1] if w > 0 else _ZERO
        above = src[i, w + 1] if w < words - 1 else _ZERO
        right = ((here << _ONE) | (below >> _63)) & masks[1, w]
        left = ((here >> _ONE) | (above << _63)) & masks[2, w]
        down = (here << shift) | (below >> back_shift)
        up = (here >> shift) | (above << back_shift)
        cells = (right | left | down | up) & masks[0, w] & allowed[j, w] & ~visited[w]
        dst[k, w] = cells
        found |= cells
    return found != _ZERO


@numba.njit(cache=True, nogil=True)
def _search(free_by, top, masks, shift, back_shift, start, food, target, layers, visited):  # noqa: ANN001, ANN202
    """Breadth-first search from `start`, entered on move 1, on a time-aware board: free_by[v] is the set of cells
    free from move v on (free_by[top] = every cell). Layer k of `layers` gets the cells first reached on move k + 1.
    Stops once it has found the body (`target`) and the food (if `food` >= 0).

    Returns (moves to the food or -1, moves to the body or -1, cells reached)."""
    words = visited.shape[0]
    for w in range(words):
        layers[0, w] = _ZERO
        visited[w] = _ZERO
    layers[0, start >> 6] = _ONE << np.uint64(start & 63)
    visited[start >> 6] = layers[0, start >> 6]
    food_moves = 1 if start == food else -1
    body_moves = -1
    k = 0
    while body_moves < 0 or (food_moves < 0 and food >= 0):
        if not _step_layer(layers, k, masks, shift, back_shift, free_by, min(k + 2, top), visited, layers, k + 1):
            break
        k += 1
        for w in range(words):
            visited[w] |= layers[k, w]
            if body_moves < 0 and layers[k, w] & target[w]:
                body_moves = k + 1
        if food_moves < 0 and food >= 0 and (layers[k, food >> 6] >> np.uint64(food & 63)) & _ONE:
            food_moves = k + 1
    reached = 0
    for w in range(words):
        reached += _popcount(visited[w])
    return food_moves, body_moves, reached


@numba.njit(cache=True, nogil=True)
def _safe_to_eat(free_by, top, masks, shift, back_shift, nbr, order, length, food, food_moves, layers, path, scratch):  # noqa: ANN001, ANN202
    """After walking a shortest searched path to the food (and growing by one), can the head still reach its body?

    The path is walked back from the food, each step to the first neighbour one move nearer in `order` (directions
    relative to the heading), so that turned and mirrored positions pick turned and mirrored paths. Once eaten, a
    body cell the snake had before frees food_moves - 1 moves later than it would have, and the path's cell entered on
    move m frees length + 1 - food_moves + m moves after the food."""
    words = layers.shape[1]
    path[food_moves] = food
    for m in range(food_moves - 1, 0, -1):
        cell = path[m + 1]
        for j in range(4):
            nxt = nbr[cell, order[j]]
            if nxt >= 0 and (layers[m - 1, nxt >> 6] >> np.uint64(nxt & 63)) & _ONE:
                path[m] = nxt
                break
    on_path, freed_path, target, visited = scratch[0], scratch[1], scratch[2], scratch[3]  # rows 4, 5: the layers
    for w in range(words):
        on_path[w] = _ZERO
        freed_path[w] = _ZERO
    for m in range(1, food_moves + 1):
        on_path[path[m] >> 6] |= _ONE << np.uint64(path[m] & 63)
    still_body = min(food_moves - 1, top)  # a body cell still taken after eating: not free by food_moves - 1
    for w in range(words):
        target[w] = ~free_by[still_body, w] & ~on_path[w] & masks[0, w]
    for m in range(1, food_moves):
        if length + 1 - food_moves + m >= 1:
            target[path[m] >> 6] |= _ONE << np.uint64(path[m] & 63)
    for w in range(words):
        scratch[4, w] = _ZERO
        visited[w] = _ZERO
    scratch[4, food >> 6] = _ONE << np.uint64(food & 63)
    visited[food >> 6] = scratch[4, food >> 6]
    freed_upto = 0  # path cells 1 .. freed_upto are free already
    t = 0
    while True:
        t += 1
        while freed_upto < food_moves and freed_upto + 1 <= t + food_moves - length - 1:
            freed_upto += 1
            freed_path[path[freed_upto] >> 6] |= _ONE << np.uint64(path[freed_upto] & 63)
        old = min(t + food_moves - 1, top)
        for w in range(words):
            scratch[5, w] = (free_by[old, w] & ~on_path[w]) | freed_path[w]  # what is free on move t
        if not _step_layer(scratch, 4, masks, shift, back_shift, scratch, 5, visited, scratch, 5):
            return False
        for w in range(words):
            if scratch[5, w] & target[w]:
                return True
            visited[w] |= scratch[5, w]
            scratch[4, w] = scratch[5, w]


@numba.njit(cache=True, nogil=True)
def _bits2(c):  # noqa: ANN001, ANN202
    """Cell c (below 128) as a two-word bit set, without a branch."""
    bit = _ONE << np.uint64(c & 63)
    low = np.uint64(c >> 6) - _ONE  # every bit when c is in word 0, none when in word 1
    return bit & low, bit & ~low


@numba.njit(cache=True, nogil=True)
def _step2(h0, h1, g, r0, r1, l0, l1, a0, a1):  # noqa: ANN001, ANN202
    """`_step_layer` for a board of at most two words, in registers: the cells one step from (h0, h1) in (a0, a1).

    No mask of the whole board: every allowed set is a subset of it already."""
    right0 = (h0 << _ONE) & r0
    right1 = ((h1 << _ONE) | (h0 >> _63)) & r1
    left0 = ((h0 >> _ONE) | (h1 << _63)) & l0
    left1 = (h1 >> _ONE) & l1
    down0 = h0 << g
    down1 = (h1 << g) | (h0 >> (np.uint64(64) - g))
    up0 = (h0 >> g) | (h1 << (np.uint64(64) - g))
    up1 = h1 >> g
    return (right0 | left0 | down0 | up0) & a0, (right1 | left1 | down1 | up1) & a1


@numba.njit(cache=True, nogil=True)
def _search2(free_by, top, m, g, start, food, t0, t1, layers):  # noqa: ANN001, ANN202
    """`_search` for a board of at most two words (grids up to 11 by 11), every set held in registers: on the
    small boards the search runs on, loads and stores of the general version's rows cost more than the search."""
    r0, r1, l0, l1 = m[1, 0], m[1, 1], m[2, 0], m[2, 1]
    f0, f1 = _bits2(food) if food >= 0 else (_ZERO, _ZERO)
    c0, c1 = _bits2(start)
    layers[0, 0] = c0
    layers[0, 1] = c1
    v0, v1 = c0, c1
    food_moves = 1 if start == food else -1
    body_moves = -1
    k = 0
    while body_moves < 0 or (food_moves < 0 and food >= 0):
        j = min(k + 2, top)
        n0, n1 = _step2(c0, c1, g, r0, r1, l0, l1, free_by[j, 0] & ~v0, free_by[j, 1] & ~v1)
        if (n0 | n1) == _ZERO:
            break
        k += 1
        layers[k, 0] = n0
        layers[k, 1] = n1
        v0 |= n0
        v1 |= n1
        if body_moves < 0 and ((n0 & t0) | (n1 & t1)) != _ZERO:
            body_moves = k + 1
        if food_moves < 0 and ((n0 & f0) | (n1 & f1)) != _ZERO:
            food_moves = k + 1
        c0, c1 = n0, n1
    reached = 0
    if body_moves < 0:
        reached = _popcount(v0) + _popcount(v1)
    return food_moves, body_moves, reached


@numba.njit(cache=True, nogil=True)
def _safe_to_eat2(free_by, top, m, g, nbr, order, length, food, food_moves, layers, path):  # noqa: ANN001, ANN202
    """`_safe_to_eat` for a board of at most two words, every set held in registers, the path walked without a
    data-dependent branch."""
    path[food_moves] = food
    on0, on1 = _bits2(food)
    t0 = t1 = _ZERO
    cell = food
    for mv in range(food_moves - 1, 0, -1):
        nxt = cell
        for j in range(3, -1, -1):  # the first neighbour in `order` on layer mv - 1: the last one kept, backwards
            c = nbr[cell, order[j]]
            cc = max(c, 0)
            if c >= 0 and (layers[mv - 1, cc >> 6] >> np.uint64(cc & 63)) & _ONE:
                nxt = c
        cell = nxt
        path[mv] = cell
        b0, b1 = _bits2(cell)
        on0 |= b0
        on1 |= b1
        if length + 1 - food_moves + mv >= 1:
            t0 |= b0
            t1 |= b1
    r0, r1, l0, l1 = m[1, 0], m[1, 1], m[2, 0], m[2, 1]
    still_body = min(food_moves - 1, top)
    t0 |= ~free_by[still_body, 0] & ~on0 & m[0, 0]
    t1 |= ~free_by[still_body, 1] & ~on1 & m[0, 1]
    c0, c1 = _bits2(food)
    v0, v1 = c0, c1
    p0 = p1 = _ZERO  # path cells freed so far
    freed_upto = 0
    t = 0
    while True:
        t += 1
        while freed_upto < food_moves and freed_upto + 1 <= t + food_moves - length - 1:
            freed_upto += 1
            b0, b1 = _bits2(path[freed_upto])
            p0 |= b0
            p1 |= b1
        old = min(t + food_moves - 1, top)
        a0 = ((free_by[old, 0] & ~on0) | p0) & ~v0
        a1 = ((free_by[old, 1] & ~on1) | p1) & ~v1
        n0, n1 = _step2(c0, c1, g, r0, r1, l0, l1, a0, a1)
        if (n0 | n1) == _ZERO:
            return False
        if ((n0 & t0) | (n1 & t1)) != _ZERO:
            return True
        v0 |= n0
        v1 |= n1
        c0, c1 = n0, n1


@numba.njit(cache=True, nogil=True, inline="always")  # inlined: a call per game measured 5 percent slower
def _read_board(cells, base, scale, masks, to_view, ttl, cell_at, free_by, row):  # noqa: ANN001, ANN202
    """One game's board: every cell's time-to-live into `ttl`, the empty cells into free_by[0], the ttl plane of `row`
    (written for the body's cells only, the rest being zero) and cell_at[v] = a body cell whose ttl is v.
    Returns (the largest ttl, the number of body cells)."""
    gg, words = ttl.shape[0], masks.shape[1]
    top = 0
    body = 0
    for w in range(words):
        empty = _ZERO
        for c in range(w * 64, min(gg, w * 64 + 64)):
            v = max(cells[c] - base, 0)
            ttl[c] = v
            top = max(top, v)
            empty |= np.uint64(v == 0) << np.uint64(c & 63)
        free_by[0, w] = empty
        body += 64 - _popcount(empty) if w * 64 + 64 <= gg else gg - w * 64 - _popcount(empty)
    if words == 1:
        free_by[0, 1] = _ZERO  # the two-word searches read a second word
    for w in range(words):  # the body's cells, one set bit at a time: a quarter of the board's cells or fewer
        left = ~free_by[0, w] & masks[0, w]
        while left != _ZERO:
            c = w * 64 + _popcount(~left & (left - _ONE))  # the lowest set bit
            left &= left - _ONE
            v = ttl[c]
            cell_at[v] = c
            row[to_view[c]] = v * scale
    return top, body


@numba.njit(cache=True, nogil=True, inline="always")  # inlined: a call per game measured 5 percent slower
def _fill_free_by(free_by, cell_at, ttl, top, body, small):  # noqa: ANN001, ANN202
    """free_by[v] for v = 1..top, the cells free from move v on: each row adds the one cell whose ttl is v to the row
    before, rather than scattering every cell into its row (the empty cells all land in row 0, a chain of
    read-modify-writes of one word). Two cells that share a ttl (never in play) fall back to scattering. Leaves
    cell_at all -1 again."""
    words = free_by.shape[1]
    seen = 0  # the ttls that some cell has: as many as the body has cells unless two cells share one
    if small:
        acc0, acc1 = free_by[0, 0], free_by[0, 1]
        for v in range(1, top + 1):
            c = cell_at[v]
            if c >= 0:
                cell_at[v] = -1
                seen += 1
                bit = _ONE << np.uint64(c & 63)
                if c < 64:
                    acc0 |= bit
                else:
                    acc1 |= bit
            free_by[v, 0] = acc0
            free_by[v, 1] = acc1
    else:
        for v in range(1, top + 1):
            for w in range(words):
                free_by[v, w] = free_by[v - 1, w]
            c = cell_at[v]
            if c >= 0:
                cell_at[v] = -1
                seen += 1
                free_by[v, c >> 6] |= _ONE << np.uint64(c & 63)
    if seen != body:
        for v in range(top + 1):
            for w in range(words):
                free_by[v, w] = _ZERO
        for c in range(ttl.shape[0]):
            free_by[ttl[c], c >> 6] |= _ONE << np.uint64(c & 63)
        for v in range(1, top + 1):
            for w in range(words):
                free_by[v, w] |= free_by[v - 1, w]


@numba.njit(cache=True, nogil=True, inline="always")
def _tour_block(tour, cell_at, ttl, top, head, food, nbr, d, mirror, row, o, steps, keeps):  # noqa: ANN001, ANN202
    """The tour features (module docstring) into row[o:], from cell_at (the body cell of each ttl) before it is reset:
    the tour's rule itself is tour.tour_move_facts, written once."""
    gg = ttl.shape[0]
    if tour.shape[0] != gg:
        return
    ordered, to_food, to_tail = tour_move_facts(tour, cell_at, top, ttl, head, food, nbr, d, steps, keeps)
    for a in range(3):
        if steps[a] < 0:
            continue
        k = o + TOUR_FEATURES_PER_MOVE * (2 - a if mirror else a)
        row[k] = 1.0 if keeps[a] else 0.0
        row[k + 1] = 1.0 if steps[a] <= to_food else 0.0
        row[k + 2] = steps[a] / gg
    o += 3 * TOUR_FEATURES_PER_MOVE
    row[o] = 1.0 if ordered else 0.0
    row[o + 1] = to_food / gg
    row[o + 2] = to_tail / gg


@numba.njit(cache=True, nogil=True, inline="always")  # inlined into _encode_games, as the two blocks above
def _move_searches(row, o, nbr, head, d, mirror, ttl, f, gg, free_count, small, free_by, top, m2, g64, masks, shift,  # noqa: ANN001, ANN202, E501
                   back_shift, target, target1, layers, visited, food_moves):
    """Each move's search: whether it dies at once, its moves to the food (kept in `food_moves`, -1 for none), its
    way back to the tail and the share of free cells it reaches."""
    for a in range(3):
        cell = nbr[head, (d + a + 3) & 3]
        k = o + FEATURES_PER_MOVE * (2 - a if mirror else a)
        food_moves[a] = -1
        if cell < 0 or ttl[cell] > 1:
            row[k] = 1.0  # dies at once: no food this way, no escape, nothing reachable
            row[k + 1] = 1.0
            continue
        if small:
            fm, bm, reached = _search2(free_by, top, m2, g64, cell, f, target[0], target1, layers[a])
        else:
            fm, bm, reached = _search(free_by, top, masks, shift, back_shift, cell, f, target, layers[a], visited)
        food_moves[a] = fm
        row[k + 1] = 1.0 if fm < 0 else fm / gg
        row[k + 3] = 1.0 if bm >= 0 else 0.0
        row[k + 4] = bm / gg if bm >= 0 else 0.0
        row[k + 5] = 1.0 if bm >= 0 else reached / max(free_count, 1)


@numba.njit(cache=True, nogil=True, inline="always")  # inlined into _encode_games, as the two blocks above
def _nearest_food(row, o, nbr, d, mirror, length, f, gg, small, free_by, top, m2, g64, masks, shift, back_shift,  # noqa: ANN001, ANN202, E501
                  layers, path, scratch, food_moves, order):
    """The moves nearest the food marked, each with whether eating there still leaves a way back to the tail."""
    best = -1
    for a in range(3):
        if food_moves[a] >= 0 and (best < 0 or food_moves[a] < best):
            best = food_moves[a]
    turn = 3 if mirror else 1  # the walk back tries ahead, right, back, left (mirrored: ahead, left, back, right)
    for j in range(4):
        order[j] = (d + j * turn) & 3
    for a in range(3):
        if best < 0 or food_moves[a] != best:
            continue
        k = o + FEATURES_PER_MOVE * (2 - a if mirror else a)
        row[k + 2] = 1.0
        if length + 1 >= gg:
            row[k + 6] = 1.0  # eating fills the board
        elif small:
            if _safe_to_eat2(free_by, top, m2, g64, nbr, order, length, f, best, layers[a], path):
                row[k + 6] = 1.0
        elif _safe_to_eat(free_by, top, masks, shift, back_shift, nbr, order, length, f, best, layers[a], path, scratch):
            row[k + 6] = 1.0


@numba.njit(cache=True, nogil=True)
def _encode_games(board, t, length, head_r, head_c, direction, food, since_food, starve, back, nbr, masks, mirror, g, tour, out):  # noqa: ANN001, ANN202, E501
    n = board.shape[0]
    gg = g * g
    words = masks.shape[1]
    shift, back_shift = np.uint64(g), np.uint64(64 - g)
    ttl = np.empty(gg, np.int64)
    cell_at = np.full(gg + 1, -1, np.int64)  # cell_at[v]: a cell whose ttl is v, or -1
    small = words <= 2  # boards up to 11 by 11 search in registers
    cols = max(words, 2)  # the two-word searches read a second word, empty on boards of one
    free_by = np.zeros((gg + 2, cols), np.uint64)  # free_by[v]: the cells free from move v on
    layers = np.zeros((3, gg + 2, cols), np.uint64)  # each move's search, layer by layer
    m2 = np.zeros((3, 2), np.uint64)
    if small:
        m2[:, :words] = masks
    g64 = np.uint64(g)
    visited = np.zeros(words, np.uint64)
    target = np.zeros(words, np.uint64)
    scratch = np.zeros((6, words), np.uint64)
    path = np.zeros(gg + 1, np.int64)
    food_moves = np.empty(3, np.int64)
    tour_steps, tour_keeps = np.empty(3, np.int64), np.empty(3, np.bool_)
    order = np.empty(4, np.int64)
    for i in range(n):
        row = out[i]
        row[:] = 0.0
        base = t[i] - length[i]
        scale = 1.0 / max(length[i], 1)
        d = direction[i]
        top, body = _read_board(board[i], base, scale, masks, back[d], ttl, cell_at, free_by, row)
        head = head_r[i] * g + head_c[i]
        f = food[i]
        _tour_block(tour, cell_at, ttl, top, head, f, nbr, d, mirror, row, 3 * gg + 2 + NUM_MOVE_FEATURES, tour_steps,
                    tour_keeps)
        _fill_free_by(free_by, cell_at, ttl, top, body, small)
        for w in range(words):
            target[w] = ~free_by[1, w] & masks[0, w]  # the body after this move: cells not free by move 1
        target1 = target[1] if words > 1 else _ZERO
        free_count = 0
        for w in range(words):
            free_count += _popcount(free_by[1, w])
        row[gg + back[d, head]] = 1.0
        if f >= 0:
            row[2 * gg + back[d, f]] = 1.0
        o = 3 * gg
        row[o] = length[i] / gg
        row[o + 1] = since_food[i] / starve
        o += 2
        _move_searches(row, o, nbr, head, d, mirror, ttl, f, gg, free_count, small, free_by, top, m2, g64, masks, shift,
                       back_shift, target, target1, layers, visited, food_moves)
        _nearest_food(row, o, nbr, d, mirror, length[i], f, gg, small, free_by, top, m2, g64, masks, shift, back_shift,
                      layers, path, scratch, food_moves, order)
        o += 3 * FEATURES_PER_MOVE
        if f >= 0:
            dr, dc = f // g - head_r[i], f % g - head_c[i]
            right = (d + 1) & 3
            row[o] = (dr * _DR[d] + dc * _DC[d]) / g
            row[o + 1] = (dr * _DR[right] + dc * _DC[right]) / g * (-1.0 if mirror else 1.0)
    return out


def encode(batch: SnakeBatch, mirror: bool = False, proofs: np.ndarray | None = None) -> np.ndarray:
    """(N, obs_size) float32 features for every game, one compiled pass per game, then the proof block.

    With `mirror`, the view is flipped left-right: the same position seen in a mirror, where actions 0 and 2 swap.
    `proofs`: these games' `proof_facts(batch, mirror)`, when the caller already has them (a training set computes
    them once: they cost about 100 microseconds a position, most of the encoder's time).
    """
    g = batch.grid_size
    if g > MAX_GRID:
        raise ValueError(f"Grid size {g} is too large for the encoder; use a grid of at most {MAX_GRID} by {MAX_GRID}.")
    _, inv, _, inv_m = rotation_tables(g)
    back = inv_m if mirror else inv
    out = np.empty((batch.num_games, obs_size(g)), dtype=np.float32)
    if batch.num_games == 0:
        return out
    # The arrays go in as they are (the board is int32): numba compiles a version for their types, where a copy
    # to int64 of every call's board cost a tenth of the encoder's time.
    _encode_games(
        batch.board, batch.t, batch.length, batch.head_r, batch.head_c, batch.direction, batch.food, batch.since_food,
        float(batch.starve_steps), back, neighbour_table(g), board_masks(g), bool(mirror), g, _tour_table(g), out,
    )  # fmt: skip
    out[:, -PROOF_FACTS:] = proof_facts(batch, mirror) if proofs is None else proofs
    return out


def proof_facts(batch: SnakeBatch, mirror: bool = False) -> np.ndarray:
    """(N, 6) the proof block of `encode` (cycle_proof.cycle_facts), proven on each game's own view so that turned
    and mirrored copies of a position get the same facts. A game's kept proof (the batch's proof memory) is given to
    the search; the plain view leaves each proven move's proof pending for the move that will be played."""
    rot, _, rot_m, _ = rotation_tables(batch.grid_size)
    return cycle_facts(batch, rot_m if mirror else rot, remember=not mirror)


def move_features(batch: SnakeBatch) -> np.ndarray:
    """(N, NUM_MOVE_FEATURES): the per-move block of `encode`, laid out as its module docstring says."""
    start = 3 * batch.grid_size**2 + 2
    return encode(batch)[:, start : start + NUM_MOVE_FEATURES]


ESCAPES = 3  # offset, within each move's block, of "the head can still reach its body after this move"


def trapped(batch: SnakeBatch) -> np.ndarray:
    """(N,) bool: no move lets the head reach its own body in time, so the snake is walled in and will die."""
    features = move_features(batch)
    return features[:, [ESCAPES + FEATURES_PER_MOVE * a for a in range(3)]].max(axis=1) <= 0
