"""Off the teacher's path: random safe moves forced on a game, so the data holds positions no player reaches alone.

A perturbed game has `FORCED_MOVES` random safe moves forced on it, at a move drawn between `FORCED_AFTER[0]` and
`FORCED_AFTER[1]`; the forced moves are played but never recorded (they are nobody's choice). Self-play perturbs a
share of its games (search/self_play.py), and so does the scripted demonstrator (scripted.record_scripted): a network
trained only on its teacher's path walked into walls off it (issue 24), and a teacher that never leaves its proofs
shows no position where nothing is proven. Every draw is a pure function of the seed, the episode's number and the
move, so how episodes are split among workers changes nothing.
"""

from __future__ import annotations

import numpy as np

from snake_mc.game.rules import SnakeBatch

FORCED_MOVES = 3  # random safe moves forced on a perturbed game (and at the off-path evaluation's hand-over)
FORCED_AFTER = (20, 1200)
_PERTURB_SALT = 0x0FF9A7


def perturbations(seed: int, first_episode: int, episodes: int, share: float) -> np.ndarray:
    """(episodes,) the move at which each episode's forced moves begin, -1 for an episode left alone: a pure
    function of the run's seed and the episode's number."""
    forced_from = np.full(int(episodes), -1, dtype=np.int64)
    for j in range(int(episodes)):
        rng = np.random.default_rng([int(seed) % 2**63, int(first_episode) + j, _PERTURB_SALT])
        if rng.random() < share:
            forced_from[j] = rng.integers(*FORCED_AFTER)
    return forced_from


def forcing_now(forced_from: np.ndarray, move: int) -> np.ndarray:
    """Which episodes play a forced move at `move`."""
    return (forced_from >= 0) & (move >= forced_from) & (move < forced_from + FORCED_MOVES)


def random_safe_moves(games: SnakeBatch, draws: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each game, the safe move that its uniform draw in [0, 1) picks among its safe moves (each equally
    likely), and whether it had one; a game with none goes straight on, and dies."""
    _, _, safe = games.move_targets()
    choices = safe.sum(axis=1)
    pick = np.floor(np.asarray(draws) * choices).astype(np.int64)  # which of the safe moves, 0 .. choices - 1
    actions = (np.cumsum(safe, axis=1) > pick[:, None]).argmax(axis=1)
    return np.where(choices > 0, actions, 1), choices > 0


def forced_moves(games: SnakeBatch, rows: np.ndarray, episodes: np.ndarray, seed: int, move: int) -> np.ndarray:
    """A random safe move (one that does not die at once, where there is one) for the games at `rows`, drawn from
    each game's episode number and the move."""
    draws = np.array([np.random.default_rng([int(seed) % 2**63, int(e), move, _PERTURB_SALT]).random() for e in episodes])
    return random_safe_moves(games.take(rows), draws)[0].astype(np.int64)
