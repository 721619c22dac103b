"""Proofs of safety that are not tied to one fixed tour: a move is proven safe when, after it (or after a short
time-aware path that starts with it), a Hamiltonian cycle of the whole board exists along which the body lies as one
contiguous run in order (tail ... head). This module holds facts only (which moves are proven, and the moves to the
food along each proof); which move to take is a player's choice (snake_mc/game/cycle_player.py).

Why that is enough: on such a cycle the cells ahead of the head are the free cells, then the tail. Following the cycle,
the next cell is free, or it is the tail, which leaves as the head enters; eating grows the run at the head and keeps it
contiguous; new food lands on a free cell, which lies ahead on the cycle, within (free cells) < g*g < 2 g*g moves. So a
snake that follows the cycle never dies and never starves, and the cycle stays a valid proof after every step, eaten
food included. A proof is therefore (prefix, cycle): a time-aware legal path of head cells (a body cell may be entered
once the tail has left it), then a cycle of the position at the prefix's end.

How one is found: the cycle must run head -> every free cell -> a cell next to the tail, so it is a Hamiltonian path
of the free cells from the head, ending next to the tail. `_complete` searches for one by depth-first search with
pruning (connectivity of the unvisited cells, degree/dead-end checks, a forced-start/forced-end count, and the grid's
two-colour parity at the root), Warnsdorff ordering (fewest onward cells first; before the food is passed, nearer the
food first), and a node budget: when the budget is spent the move is "not proven", never "unsafe".

Kinds of proof per relative move (left, straight, right), tried in this order:
  A. shortcut: a time-aware shortest path from the move's cell to the food (the BFS's own, then up to 5 other
     shortest paths: hugging walls and body, straightest, reversed order, open space), then a cycle of the position
     just after eating (the body grown by one); moves to food = the path's length. The path must end at the food:
     no other food exists before it, so no growth can upset its timing.
  A+. longer shortcut: every time-aware path 2 or 4 moves longer (`slack`), capped, each then completed as in A.
  B. cycle now: a cycle of the position just after the move, searched food-first; moves to food = the food's place
     on that cycle.
A caller may also pass a proof it already holds (a player's last one): its next cell stays proven for ever. With
`all_moves` off, a move is skipped once its time-aware distance to the food cannot beat the shortest proof already
found (its moves to food then read NOT_PROVEN: not searched). An odd board has no Hamiltonian cycle: only a given
proof can prove a move there.

Measured (scripts/cycle_player.py, seeds 20000.., one core of a shared 2-core machine): 10 by 10, 1000 games, every
board filled, 9.99 moves an apple against the tour teacher's 14.81 on the same seeds; see the script for cost.
"""

from __future__ import annotations

from collections import namedtuple
from typing import NamedTuple

import numba
import numpy as np

from snake_mc.game.proof_memory import no_memory
from snake_mc.game.rules import SnakeBatch, neighbour_table

NOT_PROVEN = 1 << 30  # moves-to-food of a move with no proof
VARIANT_MODES = np.array([1, 3, 2, 4, 0], np.int64)  # the order in which other shortest paths are tried
DEFAULT_BUDGET = 1000  # DFS nodes per Hamiltonian completion (3000 and 10000 were no faster a game)
ALL_KINDS = 15  # bits: 1 a given proof, 2 shortcuts (A), 4 cycle now (B), 8 longer shortcuts (A+)
BEST_MOVE, BEST_K, BEST_KIND, BEST_NPRE = 0, 1, 2, 3  # the shortest proof so far, `best` below
KIND_GIVEN, KIND_SHORTCUT, KIND_CYCLE_NOW = 1, 2, 3


class ProofSettings(NamedTuple):
    """How hard to search, in the order `prove_position` takes them; the defaults are the configuration measured."""

    budget: int = DEFAULT_BUDGET  # DFS nodes per completion
    kinds: int = ALL_KINDS  # which kinds of proof (ablations)
    food_first: bool = True  # B's search visits cells nearer the food first (else pure Warnsdorff)
    variants: int = 5  # other shortest paths tried per move (0..5)
    slack: int = 2  # longer shortcuts: up to 2 * slack moves over the shortest
    enum_cap: int = 2000  # path cells enumerated per longer-shortcut level
    comp_cap: int = 30  # completions per longer-shortcut level


# scratch arrays of one call (vis, inpath uint8; cand, tried (rows, cells); the rest one int64 a cell)
Scratch = namedtuple("Scratch", "vis path mark stack cand ncand ci dist_food queue parent arrive pre body2 tried "
                     "inpath kstack seq")
Position = namedtuple("Position", "ttl nb g food since_food starve length")  # one position, as the steps read it
# what the steps write (best: BEST_* above; mpre, mnpre, msucc: each move's own shortest proof, for a caller that
# carries the proof of the move it plays, proof_memory.py)
Found = namedtuple("Found", "safe to_food best pre succ stats mpre mnpre msucc")


@numba.njit(cache=True, inline="always")
def _scratch(n, variants):  # noqa: ANN001, ANN202
    return Scratch(np.zeros(n, np.uint8), np.empty(n + 1, np.int64), np.zeros(n, np.int64), np.empty(n, np.int64),
                   np.empty((n + 1, 4), np.int64), np.empty(n + 1, np.int64), np.empty(n + 1, np.int64),
                   np.empty(n, np.int64), np.empty(n, np.int64), np.empty(n, np.int64), np.empty(n, np.int64),
                   np.empty(n + 1, np.int64), np.empty(n + 1, np.int64), np.empty((variants + 1, n + 1), np.int64),
                   np.zeros(n, np.uint8), np.empty(n + 1, np.int64), np.empty(n, np.int64))

@numba.njit(cache=True, inline="always")
def _adjacent(a, b, g):  # noqa: ANN001, ANN202
    dr = a // g - b // g
    dc = a % g - b % g
    return abs(dr) + abs(dc) == 1


@numba.njit(cache=True)
def _feasible(vis, cur, tail, r, nb, g, mark, gen, stack):  # noqa: ANN001, ANN202, PLR0913
    """Can a path still run from `cur` through all `r` unvisited cells (vis == 0), ending next to `tail`?
    Necessary conditions only: the unvisited cells are connected to cur, one of them touches the tail, no cell is a
    dead end, at most one cell is forced to be the last, and at most one is forced to be the first."""
    top = 0
    count = 0
    touches_tail = False
    for k in range(4):
        y = nb[cur, k]
        if y >= 0 and vis[y] == 0 and mark[y] != gen:
            mark[y] = gen
            stack[top] = y
            top += 1
    forced_end = 0
    forced_start = 0
    while top > 0:
        top -= 1
        x = stack[top]
        count += 1
        at_tail = _adjacent(x, tail, g)
        if at_tail:
            touches_tail = True
        deg = 0
        adj_cur = False
        for k in range(4):
            y = nb[x, k]
            if y < 0:
                continue
            if vis[y] == 0:
                deg += 1
                if mark[y] != gen:
                    mark[y] = gen
                    stack[top] = y
                    top += 1
            elif y == cur:
                deg += 1
                adj_cur = True
        if deg == 0:
            return False
        if deg == 1:
            if not at_tail:
                return False
            forced_end += 1
            if forced_end > 1 or (adj_cur and r > 1):
                return False
        elif deg == 2 and adj_cur and not at_tail:
            forced_start += 1
            if forced_start > 1:
                return False
    return count == r and touches_tail


@numba.njit(cache=True, inline="always")
def _colours_allow(vis, start, tail, r, g):  # noqa: ANN001, ANN202
    """The grid's two-colour parity: a path of r steps from start alternates colours, so the last cell's colour and
    the number of unvisited cells of the other colour are fixed."""
    colour0 = (start // g + start % g) & 1
    last_colour = colour0 ^ (r & 1)
    tail_colour = (tail // g + tail % g) & 1
    if last_colour == tail_colour:
        return False
    other = 0
    for x in range(g * g):
        if vis[x] == 0 and ((x // g + x % g) & 1) != colour0:
            other += 1
    return other == (r + 1) // 2


@numba.njit(cache=True, inline="always")
def _unvisit(vis, path, last):  # noqa: ANN001, ANN202
    for j in range(1, last + 1):
        vis[path[j]] = 0


@numba.njit(cache=True)
def _complete(vis, start, tail, r, food, dist_food, nb, g, budget, path, mark, stack, cand, ncand, ci):  # noqa: ANN001, ANN202, PLR0913
    """Hamiltonian path start -> all r unvisited cells (vis == 0) -> a cell next to `tail`, written to path[0..r].

    Returns (found, nodes): found 1 when a path was written, 0 when none exists, -1 when the budget ran out first.
    `vis` is restored before returning. Ordering: fewest onward cells first; while the food is unvisited, nearer the
    food first (dist_food, a BFS distance from the food)."""
    path[0] = start
    if r == 0:
        return (1 if _adjacent(start, tail, g) else 0), 0
    if not _colours_allow(vis, start, tail, r, g):
        return 0, 0
    gen = mark.max() + 1
    if not _feasible(vis, start, tail, r, nb, g, mark, gen, stack):
        return 0, 0
    nodes = 0
    d = 0
    _expand(vis, start, nb, food >= 0 and vis[food] == 0, dist_food, cand, ncand, ci, 0)
    while d >= 0:
        if ci[d] >= ncand[d]:  # every candidate at this depth tried: back up
            if d == 0:
                return 0, nodes
            vis[path[d]] = 0
            r += 1
            d -= 1
            continue
        y = cand[d, ci[d]]
        ci[d] += 1
        nodes += 1
        if nodes > budget:
            _unvisit(vis, path, d)
            return -1, nodes
        vis[y] = 1
        r -= 1
        path[d + 1] = y
        if r == 0:
            if _adjacent(y, tail, g):
                _unvisit(vis, path, d + 1)
                return 1, nodes
            vis[y] = 0
            r += 1
            continue
        gen += 1
        if not _feasible(vis, y, tail, r, nb, g, mark, gen, stack):
            vis[y] = 0
            r += 1
            continue
        d += 1
        _expand(vis, y, nb, food >= 0 and vis[food] == 0, dist_food, cand, ncand, ci, d)
    return 0, nodes


@numba.njit(cache=True, inline="always")
def _expand(vis, cur, nb, food_open, dist_food, cand, ncand, ci, d):  # noqa: ANN001, ANN202, PLR0913
    m = 0
    keys = np.empty(4, np.int64)
    for k in range(4):
        y = nb[cur, k]
        if y < 0 or vis[y] != 0:
            continue
        deg = 0
        for j in range(4):
            z = nb[y, j]
            if z >= 0 and vis[z] == 0 and z != y:
                deg += 1
        key = dist_food[y] * 8 + deg if food_open else deg
        # insertion sort
        i = m
        while i > 0 and keys[i - 1] > key:
            keys[i] = keys[i - 1]
            cand[d, i] = cand[d, i - 1]
            i -= 1
        keys[i] = key
        cand[d, i] = y
        m += 1
    ncand[d] = m
    ci[d] = 0


@numba.njit(cache=True)
def _bfs_static(vis, src, nb, n, dist, queue):  # noqa: ANN001, ANN202
    """BFS distance from src over cells with vis == 0 (src itself allowed); n*n where unreachable."""
    for x in range(n):
        dist[x] = n * n
    if src < 0:
        return
    dist[src] = 0
    head = 0
    tailq = 1
    queue[0] = src
    while head < tailq:
        x = queue[head]
        head += 1
        for k in range(4):
            y = nb[x, k]
            if y >= 0 and vis[y] == 0 and dist[y] > dist[x] + 1:
                dist[y] = dist[x] + 1
                queue[tailq] = y
                tailq += 1


@numba.njit(cache=True)
def _timed_path(ttl, first, food, nb, n, parent, arrive, queue, out):  # noqa: ANN001, ANN202
    """Time-aware shortest path from `first` (entered at move 1) to the food: a cell of ttl v may be entered at move
    v or later. Writes the cells (first .. food) to out and returns its length, or 0 when the food is unreachable."""
    for x in range(n):
        arrive[x] = -1
    if ttl[first] > 1:
        return 0
    arrive[first] = 1
    parent[first] = -1
    head = 0
    tailq = 1
    queue[0] = first
    found = first == food
    while head < tailq and not found:
        x = queue[head]
        head += 1
        t = arrive[x] + 1
        for k in range(4):
            y = nb[x, k]
            if y >= 0 and arrive[y] < 0 and ttl[y] <= t:
                arrive[y] = t
                parent[y] = x
                queue[tailq] = y
                tailq += 1
                if y == food:
                    found = True
                    break
    if not found:
        return 0
    length = arrive[food]
    x = food
    for i in range(length - 1, -1, -1):
        out[i] = x
        x = parent[x]
    return length


@numba.njit(cache=True)
def _reconstruct(ttl, arrive, food, nb, g, mode, out):  # noqa: ANN001, ANN202
    """Another time-aware shortest path to the food from the BFS times `arrive` (as left by `_timed_path`), walked
    back from the food choosing among the cells reached one move earlier: mode 0 the first in board order, 1 the one
    with most blocked neighbours (hug walls and body), 2 the last in board order, 3 the straightest, 4 the one with
    fewest blocked neighbours. Every such chain is a legal path: each cell is free when the head arrives."""
    length = arrive[food]
    x = food
    out[length - 1] = food
    for i in range(length - 2, -1, -1):
        best_p = -1
        best_s = -(1 << 30)
        for kk in range(4):
            k = 3 - kk if mode == 2 else kk
            p = nb[x, k]
            if p < 0 or arrive[p] != arrive[x] - 1:
                continue
            score = 0
            if mode == 1 or mode == 4:
                for j in range(4):
                    z = nb[p, j]
                    if z < 0 or ttl[z] > arrive[p]:
                        score += 1
                    else:
                        for q in range(i + 1, length):
                            if out[q] == z:
                                score += 1
                                break
                if mode == 4:
                    score = -score
            elif mode == 3 and i + 2 < length:
                nxt = out[i + 2]
                score = 1 if p - x == x - nxt else 0
            if score > best_s:
                best_s = score
                best_p = p
        out[i] = best_p
        x = best_p
    return length



@numba.njit(cache=True)
def _write_cycle(path, m, body, blen, succ):  # noqa: ANN001, ANN202
    """succ of the cycle path[0] (the head) .. path[m], then the body tail first .. head."""
    for i in range(m):
        succ[path[i]] = path[i + 1]
    succ[path[m]] = body[0]
    for i in range(blen - 1):
        succ[body[i]] = body[i + 1]



@numba.njit(cache=True, inline="always")
def _mark_body(s, blen, n):  # noqa: ANN001, ANN202
    """vis: the body s.body2[:blen] blocked, every other cell open."""
    for x in range(n):
        s.vis[x] = 0
    for i in range(blen):
        s.vis[s.body2[i]] = 1


@numba.njit(cache=True, inline="always")
def _counted_completion(s, start, blen, food_key, p, budget, stats):  # noqa: ANN001, ANN202, PLR0913
    """`_complete` from `start` through the cells vis leaves open, to a cell next to the tail s.body2[0]; counted in
    stats (completions, DFS nodes, budget exhaustions). Returns found (1, 0 or -1); the path is in s.path."""
    n = p.g * p.g
    stats[0] += 1
    found, nodes = _complete(s.vis, start, s.body2[0], n - blen, food_key, s.dist_food, p.nb, p.g, budget, s.path,
                             s.mark, s.stack, s.cand, s.ncand, s.ci)
    stats[1] += nodes
    if found < 0:
        stats[2] += 1
    return found


@numba.njit(cache=True, inline="always")
def _complete_after_eating(s, m, p, budget, stats):  # noqa: ANN001, ANN202
    """The position after the prefix s.pre[:m] eats the food at its end: its body (grown by one) to s.body2, and a
    completion from the food. Returns found (1, 0 or -1)."""
    blen = p.length + 1
    for i in range(blen):
        j = p.length + m - blen + i
        s.body2[i] = s.seq[j] if j < p.length else s.pre[j - p.length]
    _mark_body(s, blen, p.g * p.g)
    return _counted_completion(s, p.food, blen, -1, p, budget, stats)


@numba.njit(cache=True)
def _slack_prefix(s, c, limit, p, budget, enum_cap, comp_cap, stats):  # noqa: ANN001, ANN202, PLR0913
    """Longer shortcuts: every time-aware simple path of exactly `limit` moves from `c` (entered at move 1) to the
    food (pruned by the Manhattan distance to the food), each followed by a completion of the position after eating,
    until one succeeds (returns `limit`, with the path in s.pre, the body after eating in s.body2 and the completion
    in s.path) or the caps (`enum_cap` path cells, `comp_cap` completions) run out (returns 0)."""
    g, food, nb, ttl, pre, inpath, kstack = p.g, p.food, p.nb, p.ttl, s.pre, s.inpath, s.kstack
    fr, fc = food // g, food % g
    pre[0] = c
    inpath[c] = 1
    kstack[0] = 0
    depth = enum = comps = result = 0
    while depth >= 0:
        x = pre[depth]
        t = depth + 1
        if x == food or kstack[depth] >= 4:
            if x == food and kstack[depth] == 0 and t == limit:
                kstack[depth] = 4
                comps += 1
                if _complete_after_eating(s, limit, p, budget, stats) == 1:
                    result = limit
                    break
                if comps >= comp_cap:
                    break
            inpath[x] = 0
            depth -= 1
            continue
        k = kstack[depth]
        kstack[depth] += 1
        y = nb[x, k]
        if y < 0 or inpath[y] != 0 or ttl[y] > t + 1:
            continue
        if t + 1 + abs(y // g - fr) + abs(y % g - fc) > limit:
            continue
        enum += 1
        if enum > enum_cap:
            break
        depth += 1
        pre[depth] = y
        inpath[y] = 1
        kstack[depth] = 0
    for i in range(depth + 1):
        inpath[pre[i]] = 0
    return result


@numba.njit(cache=True, inline="always")
def _record(a, k, kind, npre, blen, s, n, f):  # noqa: ANN001, ANN202, PLR0913
    """Move a is proven with k moves to the food; when that beats the shortest proof so far, its proof (the prefix
    s.pre[:npre], then the cycle s.path[:n - blen + 1] + body s.body2[:blen]) becomes the shortest."""
    f.safe[a] = True
    if k < f.to_food[a]:
        f.to_food[a] = k
        for i in range(npre):
            f.mpre[a, i] = s.pre[i]
        f.mnpre[a] = npre
        _write_cycle(s.path, n - blen, s.body2, blen, f.msucc[a])
    if k < f.best[BEST_K]:
        f.best[BEST_MOVE], f.best[BEST_K], f.best[BEST_KIND], f.best[BEST_NPRE] = a, k, kind, npre
        for i in range(npre):
            f.pre[i] = s.pre[i]
        _write_cycle(s.path, n - blen, s.body2, blen, f.succ)


@numba.njit(cache=True, inline="always")
def _shortest_shortcuts(s, a, m, p, f, budget, variants):  # noqa: ANN001, ANN202, PLR0913
    """A: the time-aware shortest path to the food left in s.pre by `_timed_path` (m moves), then up to `variants`
    other shortest paths, each completed after eating, until one is proven. Returns whether one was."""
    ntried = 0
    for v in range(variants + 1):
        if v > 0:  # other shortest paths: hug, straight, reversed order, open space
            _reconstruct(p.ttl, s.arrive, p.food, p.nb, p.g, VARIANT_MODES[v - 1], s.pre)
            if _tried_before(s.tried, ntried, s.pre, m):
                continue
        for i in range(m):
            s.tried[ntried, i] = s.pre[i]
        ntried += 1
        if _complete_after_eating(s, m, p, budget, f.stats) == 1:
            _record(a, m, KIND_SHORTCUT, m, p.length + 1, s, p.g * p.g, f)
            return True
    return False


@numba.njit(cache=True, inline="always")
def _tried_before(tried, ntried, pre, m):  # noqa: ANN001, ANN202
    for w in range(ntried):
        same = True
        for i in range(m):
            if tried[w, i] != pre[i]:
                same = False
                break
        if same:
            return True
    return False


@numba.njit(cache=True, inline="always")
def _longer_shortcuts(s, a, c, m, p, f, settings):  # noqa: ANN001, ANN202, PLR0913
    """A+: paths 2, 4, .. 2 * slack moves longer than the shortest (m), while they can beat the shortest proof so far
    and cannot starve. Returns whether one was proven."""
    budget, _, _, _, slack, enum_cap, comp_cap = settings
    for sl in range(1, slack + 1):
        limit = m + 2 * sl
        if limit >= f.best[BEST_K] or p.since_food + limit >= p.starve:
            break
        if _slack_prefix(s, c, limit, p, budget, enum_cap, comp_cap, f.stats) > 0:
            _record(a, limit, KIND_SHORTCUT, limit, p.length + 1, s, p.g * p.g, f)
            return True
    return False


@numba.njit(cache=True, inline="always")
def _prove_by_shortcut(s, a, c, p, f, settings):  # noqa: ANN001, ANN202
    """A, then A+ (as `settings` kinds allow). Returns whether move a (to cell c) was proven."""
    n = p.g * p.g
    m = _timed_path(p.ttl, c, p.food, p.nb, n, s.parent, s.arrive, s.queue, s.pre)
    if _shortest_shortcuts(s, a, m, p, f, settings[0], settings[3]):
        return True
    return (settings[1] & 8) != 0 and _longer_shortcuts(s, a, c, m, p, f, settings)


@numba.njit(cache=True, inline="always")
def _prove_by_cycle_now(s, a, c, p, f, budget, food_first):  # noqa: ANN001, ANN202, PLR0913
    """B: a cycle of the position just after the move to c, searched food-first (unless not food_first); moves to the
    food = the food's place on it."""
    n = p.g * p.g
    eats = c == p.food
    blen = p.length + 1 if eats else p.length
    for i in range(blen - 1):
        s.body2[i] = s.seq[p.length - (blen - 1) + i]
    s.body2[blen - 1] = c
    _mark_body(s, blen, n)
    _bfs_static(s.vis, p.food if not eats else -1, p.nb, n, s.dist_food, s.queue)
    food_key = -1 if (eats or not food_first) else p.food
    if _counted_completion(s, c, blen, food_key, p, budget, f.stats) != 1:
        return
    k = 1
    if not eats:
        for i in range(1, n - blen + 1):
            if s.path[i] == p.food:
                k = 1 + i
                break
    if p.since_food + k < p.starve:
        s.pre[0] = c
        _record(a, k, KIND_CYCLE_NOW, 1, blen, s, n, f)


@numba.njit(cache=True, inline="always")
def _body_sequence(ttl, seq):  # noqa: ANN001, ANN202
    """The body's cells, tail first, to seq; returns its length."""
    length = 0
    for x in range(len(ttl)):
        if ttl[x] > length:
            length = ttl[x]
    for x in range(len(ttl)):
        if ttl[x] > 0:
            seq[ttl[x] - 1] = x
    return length


@numba.njit(cache=True, inline="always")
def _first_cells(s, p, head, direction, cells, dists):  # noqa: ANN001, ANN202, PLR0913
    """The cell each relative move enters (-1 off the board) and its time-aware distance to the food (NOT_PROVEN
    when it cannot be entered or the food cannot be reached)."""
    n = p.g * p.g
    for a in range(3):
        cells[a] = p.nb[head, (direction + a + 3) & 3]
        dists[a] = NOT_PROVEN
        if cells[a] >= 0 and p.ttl[cells[a]] <= 1 and p.food >= 0:
            m = _timed_path(p.ttl, cells[a], p.food, p.nb, n, s.parent, s.arrive, s.queue, s.pre)
            if m > 0:
                dists[a] = m


@numba.njit(cache=True)
def given_to_food(head, food, n, given_pre, given_npre, given_succ):  # noqa: ANN001, ANN202, PLR0913
    """Moves to the food along a given proof (its prefix, then its cycle), NOT_PROVEN when the food is not on it."""
    k = 0
    cur = head
    for i in range(given_npre):
        k += 1
        cur = given_pre[i]
        if cur == food:
            return k
    while k <= n:
        cur = given_succ[cur]
        k += 1
        if cur == food:
            return k
    return NOT_PROVEN


@numba.njit(cache=True, inline="always")
def _prove_by_given(p, head, cells, f, given_pre, given_npre, given_succ):  # noqa: ANN001, ANN202, PLR0913
    """The move onto the given proof's next cell is proven, when the food lies on the proof before starvation."""
    nxt = given_pre[0] if given_npre > 0 else given_succ[head]
    for a in range(3):
        if cells[a] == nxt and nxt >= 0:
            k = given_to_food(head, p.food, p.g * p.g, given_pre, given_npre, given_succ)
            if k < NOT_PROVEN and p.since_food + k < p.starve:
                f.safe[a] = True
                f.to_food[a] = k
                f.best[BEST_MOVE], f.best[BEST_K], f.best[BEST_KIND] = a, k, KIND_GIVEN
                for i in range(given_npre):
                    f.mpre[a, i] = given_pre[i]
                f.mnpre[a] = given_npre
                for x in range(p.g * p.g):
                    f.msucc[a, x] = given_succ[x]


@numba.njit(cache=True, inline="always")
def _advance(f, n, given_pre, given_npre, given_succ, out_npre):  # noqa: ANN001, ANN202, PLR0913
    """The shortest proof as it stands after its first move: the prefix loses that move (f.pre, out_npre[0])."""
    kind = f.best[BEST_KIND]
    if kind == KIND_GIVEN:
        npre = max(given_npre - 1, 0)
        for i in range(npre):
            f.pre[i] = given_pre[i + 1]
        for x in range(n):
            f.succ[x] = given_succ[x]
        out_npre[0] = npre
    elif kind >= KIND_SHORTCUT:  # the proof starts with the move itself
        npre = f.best[BEST_NPRE]
        for i in range(npre - 1):
            f.pre[i] = f.pre[i + 1]
        out_npre[0] = npre - 1
    else:
        out_npre[0] = 0


@numba.njit(cache=True, inline="always")
def _search_moves(s, p, f, cells, dists, all_moves, settings):  # noqa: ANN001, ANN202, PLR0913
    """Each move, nearest the food first: A and A+, then B if they failed (as `settings` kinds allow)."""
    kinds = settings[1]
    order = np.argsort(dists)
    for oi in range(3):
        a = order[oi]
        c = cells[a]
        if c < 0 or p.ttl[c] > 1:
            continue
        if not all_moves and dists[a] >= f.best[BEST_K]:
            break
        if (kinds & 2) and dists[a] < NOT_PROVEN and p.since_food + dists[a] < p.starve:
            if _prove_by_shortcut(s, a, c, p, f, settings):
                continue
        if kinds & 4:
            _prove_by_cycle_now(s, a, c, p, f, settings[0], settings[2])


@numba.njit(cache=True)
def prove_position(ttl: np.ndarray, head: int, direction: int, food: int, since_food: int, starve: int, g: int,  # noqa: PLR0913
                   nb: np.ndarray, all_moves: bool, given: tuple, out: tuple, settings: tuple) -> int:
    """Proofs for the three relative moves (0 left, 1 straight, 2 right) of one position.

    ttl: (g*g,) int64 time-to-live board; head: flat cell; direction 0..3; food: flat cell or -1;
    nb: rules.neighbour_table(g).
    given: (prefix cells, its length, successor array of a cycle, whether to use it): a proof the caller already holds
    (kind bit 1). all_moves: search every move; otherwise a move is skipped once its time-aware distance to the food
    cannot beat the shortest proof found. settings: a ProofSettings.
    out: (safe (3,) bool, to_food (3,) int64, proof prefix (g*g+1,), its length (1,), successor array (g*g,),
    stats (3,): completions run, DFS nodes, budget exhaustions, then each move's own shortest proof as it stands
    before the move: prefixes (3, g*g+1), their lengths (3,), successor arrays (3, g*g)), filled in: which moves are
    proven, the moves to the food along each proof (NOT_PROVEN when none), the shortest proof as it stands after its
    first move, and each proven move's proof (its prefix starts with the move's cell, or is empty and the cycle's
    successor of the head is that cell).
    Returns the relative move that starts the shortest proof (the first found among equals), -1 when no move is
    proven. Which move to play is the caller's choice (cycle_player.py plays this one)."""
    safe, to_food, out_pre, out_npre, out_succ, stats, move_pre, move_npre, move_succ = out
    given_pre, given_npre, given_succ, use_given = given
    n = g * g
    s = _scratch(n, settings[3])
    length = _body_sequence(ttl, s.seq)
    p = Position(ttl, nb, g, food, since_food, starve, length)
    best = np.empty(4, np.int64)
    best[BEST_MOVE], best[BEST_K], best[BEST_KIND], best[BEST_NPRE] = -1, NOT_PROVEN, 0, 0
    f = Found(safe, to_food, best, out_pre, out_succ, stats, move_pre, move_npre, move_succ)
    safe[:] = False
    to_food[:] = NOT_PROVEN
    cells = np.empty(3, np.int64)
    dists = np.empty(3, np.int64)
    _first_cells(s, p, head, direction, cells, dists)
    if use_given and (settings[1] & 1):
        _prove_by_given(p, head, cells, f, given_pre, given_npre, given_succ)
    if n % 2 == 0:  # an odd board has no Hamiltonian cycle
        _search_moves(s, p, f, cells, dists, all_moves, settings)
    _advance(f, n, given_pre, given_npre, given_succ, out_npre)
    return best[BEST_MOVE]


@numba.njit(cache=True)
def move_proofs(n):  # noqa: ANN001, ANN201
    """Room for each move's own proof (the last three of `prove_position`'s `out`) on a board of n cells."""
    return np.empty((3, n + 1), np.int64), np.zeros(3, np.int64), np.empty((3, n), np.int64)


def prove_moves(batch: SnakeBatch, index: int = 0, settings: ProofSettings = ProofSettings(),  # noqa: B008
                ttl_row: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """For one game of a `SnakeBatch`: (proven (3,) bool, moves_to_food (3,) int, NOT_PROVEN where not proven), per
    relative move (0 left, 1 straight, 2 right), searching every move, with no proof given. Each Hamiltonian
    completion is bounded by `budget` DFS nodes and each move runs at most 1 + 5 shortest-path variants + slack * 30
    + 1 of them, so a call is bounded. ttl_row: the game's int64 time-to-live board, when the caller has it."""
    g = batch.grid_size
    n = g * g
    out = (np.zeros(3, np.bool_), np.zeros(3, np.int64), np.empty(n + 1, np.int64), np.zeros(1, np.int64),
           np.zeros(n, np.int64), np.zeros(3, np.int64), *move_proofs(n))
    given = (np.empty(n + 1, np.int64), 0, np.zeros(n, np.int64), False)
    ttl = batch.ttl()[index].astype(np.int64) if ttl_row is None else ttl_row
    prove_position(ttl, int(batch.head_r[index] * g + batch.head_c[index]),
                   int(batch.direction[index]), int(batch.food[index]), int(batch.since_food[index]),
                   int(batch.starve_steps), g, neighbour_table(g), True, given, out, tuple(settings))
    return out[0], out[1]


# ----- facts for a whole batch (the encoder's proof block) -----------------------------------------------------
# The encoder's proof: a lower node budget than a player's. Measured on 8,000 positions of the proven player's games
# (10 by 10, one core): budget 1,000 proves some move in 98.9 percent of positions at 282 microseconds a position;
# 200 in 97.7 percent at 130; 200 without the other shortest paths and longer shortcuts, 91.0 percent at 81.
FACT_SETTINGS = ProofSettings(budget=200, enum_cap=200, comp_cap=4)
PROOF_FACTS = 6  # proven (0/1) per relative move (left, straight, right), then moves to the food / (g*g) per move


@numba.njit(cache=True, nogil=True)
def body_is_chain(ttl, head, g, nb, seq):  # noqa: ANN001, ANN201
    """Whether the time-to-live board is one snake: values 1..length each once, each cell beside the next, the head
    at `length`. The proof indexes cells by that chain, so anything else (a damaged state) is never searched."""
    n = g * g
    length = 0
    for x in range(n):
        if ttl[x] > length:
            length = ttl[x]
    if length < 1 or length > n or head < 0 or head >= n or ttl[head] != length:
        return False
    for k in range(length):
        seq[k] = -1
    for x in range(n):
        v = ttl[x]
        if v > 0:
            if seq[v - 1] >= 0:
                return False
            seq[v - 1] = x
    for k in range(length):
        if seq[k] < 0:
            return False
    for k in range(length - 1):
        beside = False
        for d in range(4):
            if nb[seq[k], d] == seq[k + 1]:
                beside = True
        if not beside:
            return False
    return True


@numba.njit(cache=True, nogil=True, parallel=True)
def _facts_games(board, t, length, head_r, head_c, direction, food, since_food, starve, g, nb, views, settings, out,  # noqa: ANN001, ANN202, PLR0913
                 memory, write):
    """`cycle_facts` compiled: one proof of every move per game, into out (G, 6), the games shared out over numba's
    threads (a proof costs about 100 microseconds, the encoder's main cost).

    Each game is proven on its own view (views[d]: view cell -> board cell, the board turned so heading d points up,
    mirrored or not), heading up: a bounded search's tie-breaks follow the board's orientation, so a position and
    its turned or mirrored copies would otherwise get different facts.

    memory: the arrays of a proof_memory.ProofMemory (board cells), or arrays with no rows: where a game's kept proof
    applies at its time t, it is given to the search (turned to the view), so the move along it stays proven; with
    `write`, each proven move's own proof is written back (in board cells) as the game's pending proofs."""
    n = g * g
    pre, npre, succ, at, ppre, pnpre, psucc, pok, pat = memory
    remember = at.shape[0] == board.shape[0]
    for i in numba.prange(board.shape[0]):
        safe = np.zeros(3, np.bool_)
        to_food = np.zeros(3, np.int64)
        ttl = np.zeros(n, np.int64)
        mpre, mnpre, msucc = move_proofs(n)
        if not (0 <= head_r[i] < g and 0 <= head_c[i] < g and 0 <= direction[i] < 4 and -1 <= food[i] < n):
            continue
        view = views[direction[i]]
        inverse = np.empty(n, np.int64)
        head = -1
        view_food = -1
        for v in range(n):
            x = view[v]
            inverse[x] = v
            left = board[i, x] - (t[i] - length[i])
            ttl[v] = left if left > 0 else 0
            if x == head_r[i] * g + head_c[i]:
                head = v
            if x == food[i]:
                view_food = v
        given = (np.empty(n + 1, np.int64), 0, np.zeros(n, np.int64), False)
        if remember and at[i] == t[i] and 0 <= npre[i] <= n:
            given = _kept_in_view(pre[i], npre[i], succ[i], view, inverse, given)
        if body_is_chain(ttl, head, g, nb, np.empty(n, np.int64)):
            prove_position(ttl, head, 0, view_food, since_food[i], starve, g, nb, True, given,
                           (safe, to_food, np.empty(n + 1, np.int64), np.zeros(1, np.int64), np.zeros(n, np.int64),
                            np.zeros(3, np.int64), mpre, mnpre, msucc), settings)
        for a in range(3):
            out[i, a] = 1.0 if safe[a] else 0.0
            out[i, 3 + a] = to_food[a] / n if safe[a] else 1.0
        if remember and write:
            pat[i] = t[i]
            _pending_on_board(safe, mpre, mnpre, msucc, view, pok[i], ppre[i], pnpre[i], psucc[i])
    return out


@numba.njit(cache=True, inline="always")
def _kept_in_view(pre, npre, succ, view, inverse, given):  # noqa: ANN001, ANN202, PLR0913
    """A kept proof (board cells) turned to the view, as `prove_position`'s `given`."""
    gpre, gsucc = given[0], given[2]
    for k in range(npre):
        gpre[k] = inverse[pre[k]]
    for v in range(view.shape[0]):
        gsucc[v] = inverse[succ[view[v]]]
    return (gpre, npre, gsucc, True)


@numba.njit(cache=True, inline="always")
def _pending_on_board(safe, mpre, mnpre, msucc, view, pok, ppre, pnpre, psucc):  # noqa: ANN001, ANN202, PLR0913
    """Each proven move's own proof (view cells) written back in board cells, as one game's pending proofs."""
    for a in range(3):
        pok[a] = safe[a]
        if safe[a]:
            pnpre[a] = mnpre[a]
            for k in range(mnpre[a]):
                ppre[a, k] = view[mpre[a, k]]
            for v in range(view.shape[0]):
                psucc[a, view[v]] = view[msucc[a, v]]


def cycle_facts(batch: SnakeBatch, views: np.ndarray, settings: ProofSettings = FACT_SETTINGS,
                remember: bool = True) -> np.ndarray:
    """(G, 6) float32 facts of every game: for each relative move (left, straight, right, as seen in `views`, the
    encoder's view -> board tables) whether it is proven safe, then the moves to the food along its shortest proof
    over the board's cells (1 where not proven). Facts the rules fix (a cycle exists; when the node budget runs out,
    "not proven", never "unsafe"); no move is chosen here.

    A batch that carries a `ProofMemory` (games played move by move) gives each game's kept proof to the search: the
    proof of the move it last played still holds, so the move along it is proven whatever the node budget finds.
    With `remember`, each proven move's proof is left in the memory as pending, for `SnakeBatch.step` to keep the
    one of the move played (the mirrored view, which no move is played from, passes False)."""
    g = batch.grid_size
    out = np.zeros((batch.num_games, PROOF_FACTS), np.float32)
    out[:, 3:] = 1.0
    if batch.num_games == 0 or (g * g) % 2:  # an odd board has no Hamiltonian cycle: nothing is ever proven there
        return out
    memory = batch.memory.arrays() if batch.memory is not None else no_memory(g * g)
    return _facts_games(batch.board, batch.t, batch.length, batch.head_r, batch.head_c, batch.direction, batch.food,
                        batch.since_food, int(batch.starve_steps), g, neighbour_table(g), views, tuple(settings), out,
                        memory, bool(remember))
