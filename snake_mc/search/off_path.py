"""Off the teacher's path: how a policy plays from positions it would not have reached itself.

A policy that imitates a teacher sees only the teacher's positions; greedy evaluation then replays exactly those
positions and can hide a player that is lost one step off them (DESIGN.md, section 4: an input that is the teacher's
choice gave 0 boards filled once taken away). This measure pushes every game off its own path: the policy plays
`handover_moves` moves greedily, then `forced_moves` random safe moves are forced (safe: on the board and not into
the body, the tail's cell counting as free since it leaves; where no move is safe the game dies, trapped by the
policy), then the policy plays alone to the end. Only games still running at the hand-over count.

Game i is played on seed `seed + i`, as in every evaluation (evaluation.py), and its forced moves come from row i of
draws made by one numpy Generator seeded from `seed`, so the same call gives the same figures and the first games of
a larger call are the same games.
"""

from __future__ import annotations

import math
import time

import numpy as np

from snake_mc.common.constants import GREEDY_MOVES_PER_S
from snake_mc.common.stats import wilson_interval
from snake_mc.game.perturb import FORCED_MOVES, random_safe_moves
from snake_mc.game.rules import SnakeBatch
from snake_mc.search.evaluation import default_max_steps, in_play
from snake_mc.speech.narrate import Narrator, Progress, plural, roughly

# The hand-over points, in own moves per g**3: a tour game on a g by g board lasts about 1.45 g**3 moves (1,440 on 10
# by 10), so "early" (150 moves on 10 by 10) is about a tenth of a game in, "late" (700) about half way, where the
# body already covers about half the board.
HANDOVER_PER_CUBE = {"early": 0.15, "late": 0.7}
_STREAM = 0x0FF_9A7  # keeps the forced moves' stream apart from any other stream made from the same seed


def handover_points(grid_size: int) -> dict[str, int]:
    """The early and late hand-over points for a board size (150 and 700 own moves on 10 by 10), at least 1 move."""
    return {name: max(1, round(share * int(grid_size) ** 3)) for name, share in HANDOVER_PER_CUBE.items()}


def off_path_evaluation(
    policy,
    num_episodes: int,
    grid_size: int = 10,
    seed: int = 0,
    handover_moves: int = 150,
    forced_moves: int = FORCED_MOVES,
    narrator: Narrator | None = None,
    *,
    starve_steps: int | None = None,
    max_steps: int | None = None,
    label: str | None = None,
) -> dict:
    """Play `num_episodes` games off the policy's own path (see the module's note) and summarise the games still
    alive at the hand-over: how many (`alive`, of `num_episodes`; `trapped`: of those, how many had no safe move to
    force), boards filled (`filled`, `win_rate` with its 95 percent Wilson `win_rate_interval`), the mean final score,
    and `moves_per_apple`: all moves after the hand-over (the forced ones included) over all apples eaten after it.
    Figures of no game are nan. `policy` is anything with `act(batch, greedy=True)`; `max_steps` caps every game's
    moves, own and forced (default `default_max_steps`); `label` ("early", "late") names the phase when it is said."""
    n, handover, forced = _checked(num_episodes, handover_moves, forced_moves, max_steps)
    start = time.perf_counter()
    games = SnakeBatch(n, grid_size, seeds=int(seed) + np.arange(n), starve_steps=starve_steps)
    cap = int(max_steps) if max_steps is not None else default_max_steps(grid_size, games.starve_steps)
    rng = np.random.default_rng(np.random.SeedSequence([int(seed) % 2**64, _STREAM]))
    draws = rng.random((n, max(forced, 1)))  # row i is game i's, whatever n is
    per_game = float(min(1.5 * int(grid_size) ** 3, cap))  # a tour game: about 1.45 g^3 moves
    progress = _announce(narrator, n, per_game, handover, forced, label) if narrator is not None else None
    with in_play(policy, progress):
        outcome = _play(games, policy, handover, forced, draws, cap, progress, per_game)
    seconds = time.perf_counter() - start
    if narrator is not None:
        narrator.measured("greedy moves", int(outcome["lengths"].sum()), seconds)
    return _summary(outcome, handover, forced, int(seed), seconds)


def off_path_report(
    policy, num_episodes: int, grid_size: int = 10, seed: int = 0, forced_moves: int = FORCED_MOVES,
    narrator: Narrator | None = None, **options,
) -> dict[str, dict]:
    """Both hand-over points, early and late (`handover_points`), on the same games: {"early": ..., "late": ...}.
    `options` go to `off_path_evaluation` (starve_steps, max_steps)."""
    return {
        name: off_path_evaluation(policy, num_episodes, grid_size, seed, moves, forced_moves, narrator, label=name,
                                  **options)
        for name, moves in handover_points(grid_size).items()
    }  # fmt: skip


def _checked(num_episodes: int, handover_moves: int, forced_moves: int, max_steps: int | None) -> tuple[int, int, int]:
    """The counts as whole numbers, or a ValueError naming the bad one."""
    if int(num_episodes) != num_episodes or num_episodes < 1:
        raise ValueError(f"The number of episodes must be a whole number of at least 1, not {num_episodes}.")
    if int(handover_moves) != handover_moves or handover_moves < 0:
        raise ValueError(f"The hand-over must come after a whole number of moves, 0 or more, not {handover_moves}.")
    if int(forced_moves) != forced_moves or forced_moves < 0:
        raise ValueError(f"The number of forced moves must be a whole number, 0 or more, not {forced_moves}.")
    if max_steps is not None and max_steps < 1:
        raise ValueError(f"max_steps must be at least 1, not {max_steps}.")
    return int(num_episodes), int(handover_moves), int(forced_moves)


def _announce(narrator: Narrator, n: int, per_game: float, handover: int, forced: int, label: str | None) -> Progress:
    """The phase's plan and progress, counted in games' worth of moves as the evaluation counts them."""
    name = f"Off-path evaluation, {label}" if label else "Off-path evaluation"
    plan = (f"{name}: {plural(n, 'game')}, {plural(handover, 'own move')} each, then {plural(forced, 'random safe move')}, "
            f"then the policy alone to the end, {roughly(n * per_game, 'move')}")  # fmt: skip
    expected = narrator.expected_seconds("greedy moves", n * per_game, GREEDY_MOVES_PER_S)
    return narrator.progress(n, name, unit="games' worth of moves", expected_s=expected, plan=plan, steady=True)


def _play(games: SnakeBatch, policy, handover: int, forced: int, draws: np.ndarray, cap: int, progress: Progress | None,
          per_game: float) -> dict[str, np.ndarray]:
    """Every game in lockstep: own moves, the forced ones from the hand-over on, own moves to the end (or the cap).
    Finished games leave the batch, so the policy only ever sees live ones."""
    n = len(games)
    scores, lengths = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
    won, trapped = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    at_handover = np.full(n, -1, dtype=np.int64)  # the score at the hand-over; -1 for a game that ended before it
    ids, played = np.arange(n), 0
    for move in range(cap):
        if move == handover:
            at_handover[ids] = games.score
        if handover <= move < handover + forced:
            actions, had_one = random_safe_moves(games, draws[ids, move - handover])
            trapped[ids[~had_one]] = True
        else:
            actions = policy.act(games, greedy=True)
        games.step(np.asarray(actions))
        played += len(ids)
        over = games.done if move < cap - 1 else np.ones(len(ids), dtype=bool)  # the cap ends every game left
        if over.any():
            scores[ids[over]], won[ids[over]], lengths[ids[over]] = games.score[over], games.won[over], move + 1
            ids = ids[~over]
            games = games.take(np.flatnonzero(~over))
        if progress is not None:
            progress.update(max(0, min(n - 1, int(played / per_game)) - progress.count))
        if len(ids) == 0:
            break
    return {"scores": scores, "lengths": lengths, "won": won, "trapped": trapped, "at_handover": at_handover}


def _summary(outcome: dict[str, np.ndarray], handover: int, forced: int, seed: int, seconds: float) -> dict:
    """The plain figures of the games alive at the hand-over."""
    alive = outcome["at_handover"] >= 0
    k = int(alive.sum())
    apples = int((outcome["scores"] - outcome["at_handover"])[alive].sum())
    moves = int((outcome["lengths"][alive] - handover).sum())
    filled = int(outcome["won"][alive].sum())
    return {
        "num_episodes": len(alive),
        "alive": k,
        "trapped": int(outcome["trapped"][alive].sum()),
        "filled": filled,
        "win_rate": filled / k if k else math.nan,
        "win_rate_interval": wilson_interval(filled, k),
        "mean_score": float(outcome["scores"][alive].mean()) if k else math.nan,
        "moves_per_apple": moves / apples if apples else math.nan,
        "handover_moves": handover,
        "forced_moves": forced,
        "seed": seed,
        "seconds": seconds,
    }
