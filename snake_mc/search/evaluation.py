"""Evaluation: seeded, batched games of a policy alone or with the search.

Episode i of an evaluation always uses game seed ``seed + i``, so a fast evaluation of F episodes plays exactly the
first F games of a full one, and two policies evaluated with the same seed meet exactly the same food (the driver's
paired comparison, `decide.Comparison`, relies on it). All episodes
run as one `SnakeBatch` in lockstep; each move is one policy call on the games still running (finished games are
dropped from the batch, never fed to the network).

The command, `python evaluate.py CHECKPOINT`, is the top-level `evaluate.py`.
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Iterator

import numpy as np

from snake_mc.common.constants import GREEDY_MOVES_PER_S, SEARCH_WORK_PER_S
from snake_mc.common.stats import wilson_interval
from snake_mc.game.rules import SnakeBatch
from snake_mc.speech.narrate import Narrator, roughly


def default_max_steps(grid_size: int, starve_steps: int) -> int:
    """The hard step cap: a game can eat at most g*g - 3 apples and starves after `starve_steps` moves without one,
    so no real episode reaches g*g * starve_steps moves; the cap only guards against a rule change or a bug."""
    return int(grid_size) ** 2 * int(starve_steps)


def _check_counts(num_episodes: int, mc_k: int, mc_h: int, max_steps: int | None) -> None:
    if int(num_episodes) != num_episodes or num_episodes < 1:
        raise ValueError(f"The number of episodes must be a whole number of at least 1, not {num_episodes}.")
    if mc_k < 0 or mc_h < 0:
        raise ValueError(f"Monte Carlo K and H must be 0 or more, not K={mc_k} and H={mc_h}.")
    if (mc_k > 0) != (mc_h > 0):
        raise ValueError(
            f"Monte Carlo search needs both K and H above 0 (or both 0 for plain greedy play), not K={mc_k} and H={mc_h}."
        )
    if max_steps is not None and max_steps < 1:
        raise ValueError(f"max_steps must be at least 1, not {max_steps}.")


def evaluate_policy(
    policy,
    num_episodes: int,
    grid_size: int = 10,
    seed: int = 0,
    *,
    starve_steps: int | None = None,
    reward: str = "default",
    max_steps: int | None = None,
    mc_k: int = 0,
    mc_h: int = 0,
    mc_seed: int = 0,
    mc_options: dict | None = None,
    narrator: Narrator | None = None,
    expected_length: float | None = None,
) -> dict:
    """Play `num_episodes` games (episode i on seed `seed + i`) with greedy actions, or Monte Carlo search when
    `mc_k` and `mc_h` are both above 0, and summarise them.

    `policy` is anything with `act(batch, greedy=True) -> actions` (a `SnakePolicy`, or a scripted stub).
    An episode ends by death, a full board, starvation (`starve_steps`), or the hard cap `max_steps` (default
    `default_max_steps`). Its length is the number of moves played, the fatal move included.
    `mc_options` go to `monte_carlo_actions` (margin, trap_check, temperature, ...).
    `expected_length` (moves a game, when known; else 1.5 grid_size**3, about a tour game) sizes the duration
    said at the start when it is long, from the rates the narrator measured earlier in this run.
    Monte Carlo rollouts at move m draw on a seed made from (mc_seed, m) and on each game's own food stream, so the
    same call gives the same games and a fast evaluation's games are the full evaluation's first games.

    Returns mean_score, std_score (population standard deviation), max_score, mean_length, win_rate (fraction of
    boards filled), moves_per_apple (all moves over all apples; nan when none was eaten), scores and lengths (int
    arrays in episode order), seconds, num_episodes and seed.
    """
    _check_counts(num_episodes, mc_k, mc_h, max_steps)
    n = int(num_episodes)
    start = time.perf_counter()
    games = SnakeBatch(n, grid_size, seeds=int(seed) + np.arange(n), starve_steps=starve_steps, reward=reward)
    cap = int(max_steps) if max_steps is not None else default_max_steps(grid_size, games.starve_steps)
    search = _searcher(mc_k, mc_h, mc_options)
    work = int(mc_k) * int(mc_h) if search is not None else 1  # rollout moves a move costs, or one greedy move
    progress = None
    per_game = min(float(expected_length or 1.5 * grid_size**3), cap)  # a tour game: about 1.45 g^3 moves
    if narrator is not None:
        progress = _announce(narrator, n, n * per_game, work, search is not None)
    with in_play(policy, progress):
        scores, lengths, won = _play(games, policy, cap, search, int(mc_seed), progress, per_game)
    seconds = time.perf_counter() - start
    if narrator is not None:
        narrator.measured("search" if search is not None else "greedy moves", int(lengths.sum()) * work, seconds)
    return _summary(scores, lengths, won, seconds, int(seed))


@contextlib.contextmanager
def in_play(policy, progress=None) -> Iterator[None]:  # noqa: ANN001 - a policy or a scripted stub; a progress reporter
    """The policy in eval mode while games are played (restored after), and the progress closed however play ends."""
    was_training = getattr(policy, "training", None)
    if was_training:
        policy.eval()
    try:
        yield
    finally:
        if progress is not None:
            progress.close()
        if was_training:
            policy.train()


def _searcher(mc_k: int, mc_h: int, mc_options: dict | None):
    """`monte_carlo_actions` with K, H and the options bound, or None for greedy play (K 0)."""
    if mc_k == 0:
        return None
    from snake_mc.search.rollouts import monte_carlo_actions  # imported only when the search is asked for

    return functools.partial(monte_carlo_actions, K=int(mc_k), H=int(mc_h), **(mc_options or {}))


def _announce(narrator: Narrator, n: int, moves: float, work: int, searching: bool):
    """The evaluation's progress, with its expected duration from the rates this run measured (or cautious ones)."""
    if searching:
        expected = narrator.expected_seconds("search", moves * work, SEARCH_WORK_PER_S)
        plan = f"Evaluation with the search: {n} games, {roughly(moves, 'move')}"
    else:
        expected = narrator.expected_seconds("greedy moves", moves, GREEDY_MOVES_PER_S)
        plan = f"Evaluation: {n} games, {roughly(moves, 'move')}"
    # Progress counts the moves played, in games' worth: games end in a clump near the end, so a count of ended games
    # said "1 percent done" for minutes and then jumped (issue 21); each move costs about the same, so it is steady.
    return narrator.progress(n, "Evaluation", unit="games' worth of moves", expected_s=expected, plan=plan, steady=True)


def _play(games: SnakeBatch, policy, cap: int, search, mc_seed: int, progress,
          per_game: float) -> tuple[np.ndarray, ...]:
    """Play every game to its end (or the cap) in lockstep; each episode's score, length and whether it filled the
    board, in episode order. Finished games leave the batch, so the policy only ever sees live ones."""
    n = len(games)
    scores = np.zeros(n, dtype=np.int64)
    lengths = np.zeros(n, dtype=np.int64)
    won = np.zeros(n, dtype=bool)
    ids = np.arange(n)  # episode index of each game still in `games`
    played = 0  # moves played by all games so far
    for move in range(cap):
        played += len(ids)
        if search is not None:
            step_seed = int(np.random.SeedSequence([mc_seed, move]).generate_state(1)[0])
            actions = search(games, policy, seed=step_seed).actions
        else:
            actions = policy.act(games, greedy=True)
        games.step(np.asarray(actions))
        over = games.done
        if move == cap - 1:
            over = np.ones_like(over)  # the cap: every game still running ends here
        if over.any():
            ended = ids[over]
            scores[ended] = games.score[over]
            won[ended] = games.won[over]
            lengths[ended] = move + 1  # all games move together, so every one ending now has played move + 1
            ids = ids[~over]
            games = games.take(np.flatnonzero(~over))
        if progress is not None:  # every move, so news comes every 30 seconds however long the games last
            progress.update(max(0, min(n - 1, int(played / per_game)) - progress.count))
        if len(ids) == 0:
            break
    return scores, lengths, won


def _summary(scores: np.ndarray, lengths: np.ndarray, won: np.ndarray, seconds: float, seed: int) -> dict:
    apples = int(scores.sum())
    return {
        "mean_score": float(scores.mean()),
        "std_score": float(scores.std()),
        "max_score": int(scores.max()),
        "mean_length": float(lengths.mean()),
        "win_rate": float(won.mean()),
        "win_rate_interval": wilson_interval(int(won.sum()), len(won)),
        "moves_per_apple": float(lengths.sum() / apples) if apples else float("nan"),
        "scores": scores,
        "lengths": lengths,
        "seconds": seconds,
        "num_episodes": len(scores),
        "seed": seed,
    }
