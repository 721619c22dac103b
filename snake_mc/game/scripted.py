"""The built-in scripted players: the default demonstrator on a fresh machine, and `record_scripted` to record it.

The demonstrator (`record_scripted`) reads the network's own proof facts (observation.proof_facts, the game's kept
proof included): among the moves proven safe, the one whose proof reaches the food soonest. With the kept proof a
game once proven stays proven, so on even boards it fills every board (200 tuning games of 10 by 10: all filled,
10.09 moves an apple; docs/experiments.md), and every move it shows is one the network's inputs show proven, so
imitation never learns to leave a proof. Where nothing is proven (odd boards), it is the tour player (`tour.py`)
while the body lies in tour order, else a shortest path on a time-aware board (a body cell counts as free once the
tail has left it; `scripted_action`, the play-along player, is that pair). Its games are labelled scripted, never
human.
"""

from __future__ import annotations

import time

import numpy as np

from snake_mc.game.datasets import empty_dataset, validate_dataset
from snake_mc.game.observation import proof_facts
from snake_mc.game.perturb import forced_moves, forcing_now, perturbations
from snake_mc.game.rules import DC, DR, SnakeBatch, SnakeEnv
from snake_mc.game.tour import order_keeping_moves, tour_index, tour_order_facts
from snake_mc.speech.narrate import Narrator, given_or_console, plural, roughly

HUNGER_FRACTION = 0.5  # past this share of starve_steps, an unsafe path to food beats certain starvation
# Recorded moves per second before this run has measured its own: measured on our 2-core machine (24 thousand alone),
# halved for a busy one, so the expected duration errs long rather than short.
SCRIPTED_MOVES_PER_S = 12_000
# The demonstrator on the proof facts (plain and mirrored, each move): 6,900 moves a second measured alone on our
# 2-core machine (200 games of 10 by 10, 196 thousand moves, in 28 seconds; 100 games in 12 seconds), taken as 5,000
# so the expectation errs long. A game pushed off its path costs about four times as much (positions with nothing
# proven cost a failed search each and the shortest-path player): 200 games, half of them pushed, took 118 seconds
# beside a run, so a pushed game's moves are expected at a quarter of the rate.
PROVEN_MOVES_PER_S = 5_000
PUSHED_COST = 4.0

# The tour player takes shortcuts only while the snake covers less than this share of the board. A shortcut leaves the
# cells it skips behind the head, reachable again only after a lap, and late in the game the food lands in them: with
# shortcuts all game the player took 23.8 moves an apple; with none after half the board, 14.8 (200 games on 10 by
# 10, every board filled either way; 45 percent, 15.0; 55 percent, 14.9; docs/experiments.md).
SHORTCUTS_BELOW = 0.5


def tour_moves(batch: SnakeBatch) -> tuple[np.ndarray, np.ndarray]:
    """The tour player's relative move for every game, and whether its rule applies (a tour exists and the body is
    in tour order). Among the moves that keep the order (tour.order_keeping_moves) and do not pass the food, the one
    furthest ahead; once the snake covers `SHORTCUTS_BELOW` of the board, the next cell of the tour."""
    n = batch.num_games
    if tour_index(batch.grid_size) is None or n == 0:
        return np.ones(n, dtype=np.int64), np.zeros(n, dtype=bool)
    facts = tour_order_facts(batch)
    keeps, steps, in_order = order_keeping_moves(batch, facts)
    to_food = facts[3]
    keeps = keeps & (steps <= to_food[:, None])
    keeps &= (steps == 1) | (batch.length[:, None] < SHORTCUTS_BELOW * batch.grid_size**2)
    value = np.where(keeps, steps, -1)
    applies = in_order & (value.max(axis=1) > 0)
    return value.argmax(axis=1).astype(np.int64), applies


# Boards are Python ints used as bit sets (bit r*g+c), so a flood-fill layer is a few shifts, not a loop over cells.


class _Geometry:
    """Bit masks and neighbour tables of one board size."""

    def __init__(self, g: int) -> None:
        self.g, self.n = g, g * g
        self.full = (1 << self.n) - 1
        self.not_col0 = self.full & ~sum(1 << (r * g) for r in range(g))  # a left shift must not wrap into column 0
        self.not_last = self.full & ~sum(1 << (r * g + g - 1) for r in range(g))
        self.step: list[list[int]] = []  # step[cell][absolute direction] -> cell, or -1 off the board
        for cell in range(self.n):
            r, c = divmod(cell, g)
            moves = [(r + int(DR[d]), c + int(DC[d])) for d in range(4)]
            self.step.append([rr * g + cc if 0 <= rr < g and 0 <= cc < g else -1 for rr, cc in moves])
        self.nbrs = [[x for x in row if x >= 0] for row in self.step]

    def expand(self, m: int) -> int:
        return ((m << 1) & self.not_col0) | ((m >> 1) & self.not_last) | ((m << self.g) & self.full) | (m >> self.g)


_GEOMETRIES: dict[int, _Geometry] = {}


def _geometry(g: int) -> _Geometry:
    if g not in _GEOMETRIES:
        _GEOMETRIES[g] = _Geometry(g)
    return _GEOMETRIES[g]


def _mask(cells: list[int]) -> int:
    m = 0
    for c in cells:
        m |= 1 << c
    return m


def _food_path(geo: _Geometry, body: list[int], occ: int, food: int, first: int) -> list[int] | None:
    """Shortest path head -> food (cells after the head), where body[i] (tail first) frees at move i + 1.

    `first` masks the cells the first move may enter (no reversing, even for a snake of one or two cells)."""
    free, fbit = geo.full & ~occ, 1 << food
    visited = frontier = 1 << body[-1]
    layers = [frontier]
    d = 0
    while True:
        d += 1
        if d <= len(body):
            free |= 1 << body[d - 1]
        frontier = geo.expand(frontier) & free & ~visited & (first if d == 1 else geo.full)
        if not frontier:
            return None
        if frontier & fbit:
            break
        layers.append(frontier)
        visited |= frontier
    path, cur = [food], food
    for k in range(d - 1, 0, -1):  # walk back through the BFS layers
        cur = next(nb for nb in geo.nbrs[cur] if layers[k] >> nb & 1)
        path.append(cur)
    path.reverse()
    return path


def _escape(geo: _Geometry, body: list[int]) -> tuple[bool, int, int]:
    """Can the head reach a body cell after the tail has left it? Then retracing the body is safe for ever.

    Returns (safe, moves to the first such cell, cells reachable when not safe)."""
    if len(body) >= geo.n:
        return True, 0, 0
    occ = _mask(body)
    free, target = geo.full & ~occ, occ & ~(1 << body[-1])
    visited = frontier = 1 << body[-1]
    d = 0
    while frontier:
        d += 1
        if d <= len(body):
            free |= 1 << body[d - 1]
        frontier = geo.expand(frontier) & free & ~visited
        if frontier & target:
            return True, d, 0
        visited |= frontier
    return False, d, visited.bit_count()


def _decide(geo: _Geometry, body: list[int], direction: int, food: int, since_food: int, starve_steps: int) -> int:
    """One scripted move. body: cells tail first, head last.

    1. Shortest path to the food, if the head could still escape (reach its retreating body) after eating.
    2. Otherwise the safe move that takes longest to reach the body (a cheap stand-in for the longest path to the
       tail, which keeps the snake sweeping open space instead of hugging its tail).
    3. Otherwise the move with the most reachable cells. When starvation nears, the food path is taken even unsafe."""
    head, tail, occ = body[-1], body[0], _mask(body)
    moves = []
    for a in (0, 1, 2):
        c = geo.step[head][(direction + a + 3) & 3]
        if c >= 0 and (not occ >> c & 1 or c == tail):  # the tail's cell frees as the head moves in
            moves.append((a, c))
    if not moves:
        return 1
    if food >= 0:
        path = _food_path(geo, body, occ, food, _mask([c for _, c in moves]))
        if path is not None:
            act = next(a for a, c in moves if c == path[0])
            after = (body + path)[len(path) - 1 :]  # the body once the food is eaten (it grows by one)
            if _escape(geo, after)[0] or since_food + len(path) >= HUNGER_FRACTION * starve_steps:
                return act
    best: tuple[int, int] | None = None
    fallback: tuple[int, int] | None = None
    for a, c in moves:
        safe, moves_to_body, area = _escape(geo, body + [c] if c == food else body[1:] + [c])
        if safe and (best is None or moves_to_body > best[0]):
            best = (moves_to_body, a)
        elif not safe and (fallback is None or area > fallback[0]):
            fallback = (area, a)
    return (best or fallback)[1]  # type: ignore[index]


def _bodies(batch: SnakeBatch, idx: np.ndarray) -> list[list[int]]:
    """Each listed game's cells, tail first (ttl 1 .. length)."""
    n = batch.grid_size**2
    order = np.argsort(batch.ttl()[idx], axis=1, kind="stable")
    return [order[k, n - int(batch.length[i]) :].tolist() for k, i in enumerate(idx)]


def scripted_action(game: SnakeEnv | SnakeBatch, index: int = 0) -> int:
    """The scripted player's relative action (0 left, 1 straight, 2 right) for one game of an env or a batch."""
    batch = game.game if isinstance(game, SnakeEnv) else game
    if batch.done[index]:
        return 1
    one = batch.take(np.array([index]))
    actions, applies = tour_moves(one)
    if applies[0]:
        return int(actions[0])
    (body,) = _bodies(batch, np.array([index]))
    return _decide(
        _geometry(batch.grid_size), body, int(batch.direction[index]), int(batch.food[index]),
        int(batch.since_food[index]), batch.starve_steps,
    )  # fmt: skip


def _teachers_moves(batch: SnakeBatch, live: np.ndarray, facts: np.ndarray, geo: tuple) -> np.ndarray:
    """The teacher's move for each game `live`: among the moves the proof facts prove safe (`facts`, those games'
    plain proof facts, the kept proof included), the one whose proof reaches the food in the fewest moves (the first
    of equals: left, straight, right). Where none is proven (an odd board, or a start the search missed): the tour's
    move where the body lies in tour order, else the shortest safe way to the food (`_decide`). Every move the
    teacher plays on an even board is thus one the network's own inputs show proven."""
    proven = facts[:, :3] > 0.5
    actions = np.where(proven, facts[:, 3:], np.inf).argmin(axis=1).astype(np.int64)
    rest = np.flatnonzero(~proven.any(axis=1))
    if len(rest):
        games = live[rest]
        tour, applies = tour_moves(batch.take(games))
        actions[rest] = tour
        for k, i, body in zip(rest[~applies], games[~applies], _bodies(batch, games[~applies])):
            actions[k] = _decide(geo, body, int(batch.direction[i]), int(batch.food[i]), int(batch.since_food[i]),
                                 batch.starve_steps)
    return actions


def _record_move(batch: SnakeBatch, geo: _Geometry, forced_from: np.ndarray, seed: int, move: int,
                 chunks: dict[str, list[np.ndarray]]) -> int:
    """One move of every live game: the teacher's (or a forced one, not recorded), its position, facts as played
    (plain and mirrored) and move appended to `chunks`; returns the number of games that moved."""
    live = np.flatnonzero(~batch.done)
    now = batch.take(live)
    facts = np.stack([proof_facts(now), proof_facts(now, mirror=True)], axis=1)
    batch.keep_memory_of(live, now)
    actions = np.ones(batch.num_games, np.int64)
    actions[live] = _teachers_moves(batch, live, facts[:, 0], geo)
    forced = forcing_now(forced_from[live], move)
    if forced.any():
        actions[live[forced]] = forced_moves(batch, live[forced], live[forced], seed, move)
    kept = ~forced
    for key, value in now.export_states().items():
        chunks.setdefault(key, []).append(value[kept])
    chunks["actions"].append(actions[live[kept]])
    chunks["episode"].append(live[kept])
    chunks.setdefault("proofs", []).append(facts[kept])
    batch.step(actions)
    return len(live)


def record_scripted(
    num_episodes: int, grid_size: int = 10, seed: int = 0, starve_steps: int | None = None, narrator: Narrator | None = None,
    perturbed_share: float = 0.0,
) -> dict[str, np.ndarray]:
    """Play `num_episodes` scripted games in lockstep (episode i uses seed `seed + i`) and return them as a dataset.

    States are recorded before each action, samples grouped by episode in move order. A `perturbed_share` of the
    games get `perturb.FORCED_MOVES` random safe moves forced on them at a random move (perturb.py), not recorded:
    the teacher then shows how it plays where its proof was lost, which no game of its own reaches."""
    if not 0 <= perturbed_share <= 1:
        raise ValueError(f"The share of perturbed scripted games must lie from 0 to 1, not {perturbed_share}.")
    narrator = given_or_console(narrator)
    n = int(num_episodes)
    if n < 1:
        raise ValueError(f"The number of scripted games must be at least 1, not {n}.")
    batch = SnakeBatch(n, grid_size, seeds=np.arange(seed, seed + n), starve_steps=starve_steps)
    geo = _geometry(batch.grid_size)
    chunks: dict[str, list[np.ndarray]] = {"actions": [], "episode": []}
    # Known in advance only roughly: a proven player's game lasts about grid_size**3 moves (970 on 10 by 10), a
    # shortest-path game (odd boards) about 1.7 x grid_size**3 (1,692 on 10 by 10).
    touring = tour_index(batch.grid_size) is not None
    moves = (1.0 if touring else 1.7) * batch.grid_size**3 * n
    weight = 1.0 + (PUSHED_COST - 1.0) * perturbed_share if touring else 1.0  # pushed games cost more a move
    expected = narrator.expected_seconds("scripted moves", moves * weight,
                                         PROVEN_MOVES_PER_S if touring else SCRIPTED_MOVES_PER_S)
    plan = f"Recording {plural(n, 'scripted game')}, {roughly(moves, 'move')}"
    started = time.perf_counter()
    per_game = moves / n
    played = move = 0
    forced_from = perturbations(seed, 0, n, perturbed_share)
    # Progress counts the moves played, in games' worth (as the evaluations do): the games end together near the
    # end, so a count of ended games said "0 of 200" until the last seconds.
    with narrator.progress(n, "Scripted games", unit="games' worth of moves", expected_s=expected, plan=plan,
                           steady=True) as bar:
        while not batch.done.all():
            played += _record_move(batch, geo, forced_from, seed, move, chunks)
            move += 1
            bar.update(max(0, min(n - 1, int(played / per_game)) - bar.count))
    data = empty_dataset(batch.grid_size, "scripted", with_proofs=True)
    episode = np.concatenate(chunks["episode"])
    order = np.argsort(episode, kind="stable")  # steps were appended in time order, so this keeps move order
    for key, parts in chunks.items():
        data[key] = np.concatenate(parts)[order].astype(data[key].dtype)
    data["episode_scores"] = batch.score.astype(np.int32)
    narrator.measured("scripted moves", len(episode), time.perf_counter() - started)
    validate_dataset(data, "the scripted recording")
    return data
