"""Proofs of safety that are not tied to one fixed tour: a move is proven safe when, after it (or after a short
time-aware path that starts with it), a Hamiltonian cycle of the whole board exists along which the body lies as one
contiguous run in order (tail ... head).

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
A player also keeps its last proof (`plan`): its next cell stays proven for ever, so once any proof exists, the
player never needs a fallback again. A move is only skipped when its time-aware distance to the food cannot beat the
best proof already found.

Measured (scripts/cycle_player.py, seeds 20000.., one core of a shared 2-core machine): 10 by 10, 1000 games, every
board filled, 9.99 moves an apple against the tour teacher's 14.81 on the same seeds; see the script for cost.
"""

from __future__ import annotations

import numba
import numpy as np

NOT_PROVEN = 1 << 30  # moves-to-food of a move with no proof
VARIANT_MODES = np.array([1, 3, 2, 4, 0], np.int64)  # the order in which other shortest paths are tried
DEFAULT_BUDGET = 1000  # DFS nodes per Hamiltonian completion (3000 and 10000 were no faster a game)


@numba.njit(cache=True)
def neighbours(g):  # noqa: ANN001, ANN201
    """(g*g, 4) the cell up, right, down, left of each cell (absolute directions of rules.py), -1 off the board."""
    n = g * g
    nb = np.full((n, 4), -1, np.int64)
    for x in range(n):
        r, c = x // g, x % g
        if r > 0:
            nb[x, 0] = x - g
        if c < g - 1:
            nb[x, 1] = x + 1
        if r < g - 1:
            nb[x, 2] = x + g
        if c > 0:
            nb[x, 3] = x - 1
    return nb


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


@numba.njit(cache=True)
def _complete(vis, start, tail, r, food, dist_food, nb, g, budget, path, mark, stack, cand, ncand, ci):  # noqa: ANN001, ANN202, PLR0913
    """Hamiltonian path start -> all r unvisited cells (vis == 0) -> a cell next to `tail`, written to path[0..r].

    Returns (found, nodes): found 1 when a path was written, 0 when none exists, -1 when the budget ran out first.
    `vis` is restored before returning. Ordering: fewest onward cells first; while the food is unvisited, nearer the
    food first (dist_food, a BFS distance from the food)."""
    path[0] = start
    if r == 0:
        return (1 if _adjacent(start, tail, g) else 0), 0
    # parity: the path alternates colours, so the last cell's colour and the colour counts are fixed
    colour0 = (start // g + start % g) & 1
    last_colour = colour0 ^ (r & 1)
    tail_colour = (tail // g + tail % g) & 1
    if last_colour == tail_colour:
        return 0, 0
    other = 0
    n = g * g
    for x in range(n):
        if vis[x] == 0 and ((x // g + x % g) & 1) != colour0:
            other += 1
    if other != (r + 1) // 2:
        return 0, 0
    gen = mark.max() + 1
    if not _feasible(vis, start, tail, r, nb, g, mark, gen, stack):
        return 0, 0
    nodes = 0
    d = 0
    # expand depth 0
    food_open = food >= 0 and vis[food] == 0
    _expand(vis, start, nb, food_open, dist_food, cand, ncand, ci, 0)
    while d >= 0:
        if ci[d] >= ncand[d]:
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
            for j in range(1, d + 1):
                vis[path[j]] = 0
            return -1, nodes
        vis[y] = 1
        r -= 1
        path[d + 1] = y
        if r == 0:
            if _adjacent(y, tail, g):
                for j in range(1, d + 2):
                    vis[path[j]] = 0
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
        food_open = food >= 0 and vis[food] == 0
        _expand(vis, y, nb, food_open, dist_food, cand, ncand, ci, d)
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
def _slack_prefix(ttl, c, food, limit, seq, length, nb, g, budget, enum_cap, comp_cap, pre, inpath, kstack, body2,  # noqa: ANN001, ANN202, PLR0913
                  vis, path, mark, stack, cand, ncand, ci, dist_food, stats):
    """Longer shortcuts: every time-aware simple path of exactly `limit` moves from `c` (entered at move 1) to the
    food (pruned by the Manhattan distance to the food), each followed by a completion of the position after eating,
    until one succeeds (returns `limit`, with the path in pre, the body after eating in body2 and the completion in
    path) or the caps (`enum_cap` path cells, `comp_cap` completions) run out (returns 0)."""
    n = g * g
    fr = food // g
    fc = food % g
    pre[0] = c
    inpath[c] = 1
    kstack[0] = 0
    depth = 0
    enum = 0
    comps = 0
    result = 0
    while depth >= 0:
        x = pre[depth]
        t = depth + 1
        if x == food or kstack[depth] >= 4:
            if x == food and kstack[depth] == 0 and t == limit:
                kstack[depth] = 4
                blen = length + 1
                for i in range(blen):
                    j = length + limit - blen + i
                    body2[i] = seq[j] if j < length else pre[j - length]
                for z in range(n):
                    vis[z] = 0
                for i in range(blen):
                    vis[body2[i]] = 1
                stats[0] += 1
                comps += 1
                found, nodes = _complete(vis, food, body2[0], n - blen, -1, dist_food, nb, g, budget, path, mark,
                                         stack, cand, ncand, ci)
                stats[1] += nodes
                if found < 0:
                    stats[2] += 1
                if found == 1:
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


@numba.njit(cache=True)
def _prove_one(ttl, head, direction, food, since_food, starve, g, budget, all_moves, plan_pre, plan_npre, plan_succ,  # noqa: ANN001, ANN201, PLR0913, PLR0915
               use_plan, safe, to_food, out_pre, out_npre, out_succ, stats, kinds=7, food_first=True, variants=1,
               slack=0, enum_cap=2000, comp_cap=30):
    """Proofs for the three relative moves of one position.

    ttl: (g*g,) time-to-live board; head: flat cell; direction 0..3; food: flat cell or -1.
    plan_pre[:plan_npre], plan_succ: the player's last proof (a prefix of cells, then a cycle as a successor array),
    used when use_plan. all_moves: search every move; otherwise a move is skipped once its time-aware distance to the
    food cannot beat the best proof found (the player's use).
    Writes safe[3] (proven), to_food[3] (moves to the food along the proof, NOT_PROVEN when none), and, for the
    move with the fewest moves to the food, its proof to out_pre/out_npre/out_succ. Returns the chosen relative move
    (-1 when none is proven). stats: [completions run, DFS nodes, budget exhaustions].
    kinds (ablations): bit 1 the kept plan, bit 2 shortcut proofs (A), bit 4 cycle-now proofs (B), bit 8 longer
    shortcuts (up to `slack` times 2 moves longer than the shortest, capped by enum_cap and comp_cap); food_first: B's
    search visits cells nearer the food first (else pure Warnsdorff)."""
    n = g * g
    nb = neighbours(g)
    length = 0
    for x in range(n):
        if ttl[x] > length:
            length = ttl[x]
    seq = np.empty(n, np.int64)  # body tail first
    for x in range(n):
        if ttl[x] > 0:
            seq[ttl[x] - 1] = x
    vis = np.zeros(n, np.uint8)
    path = np.empty(n + 1, np.int64)
    mark = np.zeros(n, np.int64)
    stack = np.empty(n, np.int64)
    cand = np.empty((n + 1, 4), np.int64)
    ncand = np.empty(n + 1, np.int64)
    ci = np.empty(n + 1, np.int64)
    dist_food = np.empty(n, np.int64)
    queue = np.empty(n, np.int64)
    parent = np.empty(n, np.int64)
    arrive = np.empty(n, np.int64)
    pre = np.empty(n + 1, np.int64)
    body2 = np.empty(n + 1, np.int64)
    cells = np.empty(3, np.int64)
    tried = np.empty((variants + 1, n + 1), np.int64)
    inpath = np.zeros(n, np.uint8)
    kstack = np.empty(n + 1, np.int64)
    dists = np.empty(3, np.int64)
    for a in range(3):
        safe[a] = False
        to_food[a] = NOT_PROVEN
        d = (direction + a + 3) & 3
        cells[a] = nb[head, d]
        dists[a] = NOT_PROVEN
        if cells[a] >= 0 and ttl[cells[a]] <= 1 and food >= 0:
            m = _timed_path(ttl, cells[a], food, nb, n, parent, arrive, queue, pre)
            if m > 0:
                dists[a] = m
    best = -1
    best_k = NOT_PROVEN
    best_kind = 0  # 1 plan, 2 shortcut, 3 cycle now
    best_npre = 0
    # the kept plan
    if use_plan and (kinds & 1):
        nxt = plan_pre[0] if plan_npre > 0 else plan_succ[head]
        for a in range(3):
            if cells[a] == nxt and nxt >= 0:
                k = 0
                cur = head
                hit = False
                for i in range(plan_npre):
                    k += 1
                    cur = plan_pre[i]
                    if cur == food:
                        hit = True
                        break
                while not hit and k <= n:
                    cur = plan_succ[cur]
                    k += 1
                    if cur == food:
                        hit = True
                if hit and since_food + k < starve:
                    safe[a] = True
                    to_food[a] = k
                    best, best_k, best_kind = a, k, 1
    # moves in order of their time-aware distance to the food
    if n % 2 == 1:  # no Hamiltonian cycle on an odd number of cells: nothing but a kept plan can be proven
        out_npre[0] = 0
        return -1
    order = np.argsort(dists)
    for oi in range(3):
        a = order[oi]
        c = cells[a]
        if c < 0 or ttl[c] > 1:
            continue
        if not all_moves and dists[a] >= best_k:
            break
        # A: shortcut to the food, then a cycle after eating
        if (kinds & 2) and dists[a] < NOT_PROVEN and since_food + dists[a] < starve:
            m = _timed_path(ttl, c, food, nb, n, parent, arrive, queue, pre)
            proven_a = False
            ntried = 0
            for v in range(variants + 1):
                if v > 0:  # other shortest paths: hug, straight, reversed order, open space
                    _reconstruct(ttl, arrive, food, nb, g, VARIANT_MODES[v - 1], pre)
                    same = False
                    for w in range(ntried):
                        eq = True
                        for i in range(m):
                            if tried[w, i] != pre[i]:
                                eq = False
                                break
                        if eq:
                            same = True
                            break
                    if same:
                        continue
                for i in range(m):
                    tried[ntried, i] = pre[i]
                ntried += 1
                # body after eating: last length+1 cells of seq + pre
                tot = length + m
                blen = length + 1
                for i in range(blen):
                    j = tot - blen + i
                    body2[i] = seq[j] if j < length else pre[j - length]
                for x in range(n):
                    vis[x] = 0
                for i in range(blen):
                    vis[body2[i]] = 1
                stats[0] += 1
                found, nodes = _complete(vis, food, body2[0], n - blen, -1, dist_food, nb, g, budget, path, mark,
                                         stack, cand, ncand, ci)
                stats[1] += nodes
                if found < 0:
                    stats[2] += 1
                if found == 1:
                    proven_a = True
                    safe[a] = True
                    if m < to_food[a]:
                        to_food[a] = m
                    if m < best_k:
                        best, best_k, best_kind = a, m, 2
                        best_npre = m
                        for i in range(m):
                            out_pre[i] = pre[i]
                        _write_cycle(path, n - blen, body2, blen, out_succ)
                    break
            if not proven_a and (kinds & 8):
                for sl in range(1, slack + 1):
                    limit = m + 2 * sl
                    if limit >= best_k or since_food + limit >= starve:
                        break
                    got = _slack_prefix(ttl, c, food, limit, seq, length, nb, g, budget, enum_cap, comp_cap, pre,
                                        inpath, kstack, body2, vis, path, mark, stack, cand, ncand, ci, dist_food,
                                        stats)
                    if got > 0:
                        proven_a = True
                        safe[a] = True
                        if limit < to_food[a]:
                            to_food[a] = limit
                        best, best_k, best_kind = a, limit, 2
                        best_npre = limit
                        for i in range(limit):
                            out_pre[i] = pre[i]
                        _write_cycle(path, n - (length + 1), body2, length + 1, out_succ)
                        break
            if proven_a:
                continue
        # B: a cycle of the position just after the move
        if not (kinds & 4):
            continue
        eats = c == food
        blen = length + 1 if eats else length
        for i in range(blen - 1):
            body2[i] = seq[length - (blen - 1) + i]
        body2[blen - 1] = c
        for x in range(n):
            vis[x] = 0
        for i in range(blen):
            vis[body2[i]] = 1
        _bfs_static(vis, food if not eats else -1, nb, n, dist_food, queue)
        stats[0] += 1
        food_key = -1 if (eats or not food_first) else food
        found, nodes = _complete(vis, c, body2[0], n - blen, food_key, dist_food, nb, g, budget, path, mark, stack,
                                 cand, ncand, ci)
        stats[1] += nodes
        if found < 0:
            stats[2] += 1
        if found == 1:
            k = 1
            if not eats:
                for i in range(1, n - blen + 1):
                    if path[i] == food:
                        k = 1 + i
                        break
            if since_food + k < starve:
                safe[a] = True
                if k < to_food[a]:
                    to_food[a] = k
                if k < best_k:
                    best, best_k, best_kind = a, k, 3
                    best_npre = 1
                    out_pre[0] = c
                    _write_cycle(path, n - blen, body2, blen, out_succ)
    if best_kind == 1:
        # keep the plan: advance it by one
        if plan_npre > 0:
            best_npre = plan_npre - 1
            for i in range(best_npre):
                out_pre[i] = plan_pre[i + 1]
        else:
            best_npre = 0
        for x in range(n):
            out_succ[x] = plan_succ[x]
        out_npre[0] = best_npre
    elif best_kind >= 2:
        # the proof starts with the move itself: drop it from the prefix (the caller makes that move)
        for i in range(best_npre - 1):
            out_pre[i] = out_pre[i + 1]
        out_npre[0] = best_npre - 1
    else:
        out_npre[0] = 0
    return best


@numba.njit(cache=True)
def _write_cycle(path, m, body, blen, succ):  # noqa: ANN001, ANN202
    """succ of the cycle path[0] (the head) .. path[m], then the body tail first .. head."""
    for i in range(m):
        succ[path[i]] = path[i + 1]
    succ[path[m]] = body[0]
    for i in range(blen - 1):
        succ[body[i]] = body[i + 1]


def prove_moves(batch, index: int = 0, budget: int = DEFAULT_BUDGET, slack: int = 2) -> tuple[np.ndarray, np.ndarray]:  # noqa: ANN001
    """For one game of a `SnakeBatch`: (proven (3,) bool, moves_to_food (3,) int, NOT_PROVEN where not proven), per
    relative move (0 left, 1 straight, 2 right), searching every move (no kept plan). Each Hamiltonian completion is
    bounded by `budget` DFS nodes and each move runs at most 1 + 5 shortest-path variants + slack * 30 + 1 of them,
    so a call is bounded (all arguments are passed: numba's dispatch of omitted defaults costs ~100 us a call)."""
    g = batch.grid_size
    n = g * g
    ttl = batch.ttl()[index].astype(np.int64)
    safe = np.zeros(3, np.bool_)
    to_food = np.zeros(3, np.int64)
    out_pre = np.empty(n + 1, np.int64)
    out_npre = np.zeros(1, np.int64)
    out_succ = np.zeros(n, np.int64)
    stats = np.zeros(3, np.int64)
    _prove_one(ttl, int(batch.head_r[index] * g + batch.head_c[index]), int(batch.direction[index]),
               int(batch.food[index]), int(batch.since_food[index]), int(batch.starve_steps), g, budget, True,
               out_pre, 0, out_succ, False, safe, to_food, out_pre.copy(), out_npre, out_succ.copy(), stats,
               15, True, 5, slack, 2000, 30)
    return safe, to_food


class CyclePlayer:
    """The greedy proven player for a batch of games: among proven moves, the one that reaches the food soonest;
    it keeps its last proof per game, so a game, once proven, stays proven. `act_one` returns the move, or -1 when
    nothing is proven (the caller then plays a fallback, and the kept proof is dropped)."""

    def __init__(self, batch, budget: int = DEFAULT_BUDGET, kinds: int = 15, food_first: bool = True,  # noqa: ANN001
                 variants: int = 5, slack: int = 2, enum_cap: int = 2000, comp_cap: int = 30) -> None:
        n = batch.grid_size**2
        self.slack = slack
        self.enum_cap = enum_cap
        self.comp_cap = comp_cap
        self.variants = variants
        self.budget = budget
        self.kinds = kinds
        self.food_first = food_first
        self.pre = np.zeros((batch.num_games, n + 1), np.int64)
        self.npre = np.zeros(batch.num_games, np.int64)
        self.succ = np.zeros((batch.num_games, n), np.int64)
        self.has_plan = np.zeros(batch.num_games, bool)
        self.stats = np.zeros(3, np.int64)

    def act_one(self, batch, i: int, ttl_row: np.ndarray) -> int:  # noqa: ANN001
        g = batch.grid_size
        n = g * g
        safe = np.zeros(3, np.bool_)
        to_food = np.zeros(3, np.int64)
        out_pre = np.empty(n + 1, np.int64)
        out_npre = np.zeros(1, np.int64)
        out_succ = np.empty(n, np.int64)
        a = _prove_one(ttl_row, int(batch.head_r[i] * g + batch.head_c[i]), int(batch.direction[i]), int(batch.food[i]),
                       int(batch.since_food[i]), int(batch.starve_steps), g, self.budget, False, self.pre[i],
                       int(self.npre[i]), self.succ[i], bool(self.has_plan[i]), safe, to_food, out_pre, out_npre,
                       out_succ, self.stats, self.kinds, self.food_first, self.variants,
                       self.slack, self.enum_cap, self.comp_cap)
        if a >= 0:
            self.pre[i, : out_npre[0]] = out_pre[: out_npre[0]]
            self.npre[i] = out_npre[0]
            self.succ[i] = out_succ
            self.has_plan[i] = True
        else:
            self.has_plan[i] = False
        return int(a)
