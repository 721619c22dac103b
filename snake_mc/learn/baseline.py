"""The baseline a demonstration file sets: the mean score of its games, the figure a trained policy must beat.

It says who played (a person, the scripted player, self-play), so a scripted baseline is never called human.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from snake_mc.common.storage import MAX_NPZ_BYTES, checked_npz
from snake_mc.game.datasets import DatasetError, load_dataset
from snake_mc.speech.narrate import plural


@dataclass(frozen=True)
class Baseline:
    score: float
    source: str
    episodes: int
    rough: bool
    sentence: str


_SOURCE_WORDS = {"scripted": "the scripted player, not a person", "mc": "Monte Carlo self-play, not a person"}


def human_baseline(path: str | os.PathLike) -> Baseline:
    """Mean recorded episode score of a demonstration file, the figure a trained policy is compared with.

    An old file holding only `states` and `actions` has no scores, so the score is a rough volume estimate:
    episodes are detected where the snake's length drops (states that are (N, g, g) or (N, g*g) grids coded 0 empty,
    1 body, 2 head, 3 food); otherwise one episode per 100 samples is assumed. The estimate is then
    max(0, samples per episode / grid size): a longer game means more apples, and on a g by g board an apple costs
    roughly g moves early on. The grid size comes from the square dimensions of `states` (10 when there are none)."""
    path = Path(path)
    if not path.exists():
        raise DatasetError(f"{path} does not exist; record demonstrations with python play.py or python play.py --scripted 200.")
    try:
        with checked_npz(path, MAX_NPZ_BYTES) as npz:
            keys = set(npz.files)
            old = {"states", "actions"} <= keys and "episode_scores" not in keys
            states = npz["states"] if old else None
            samples = len(npz["actions"]) if old else 0
    except Exception as exc:  # a refused size included
        raise DatasetError(f"{path} cannot be read ({type(exc).__name__}); delete it or record it again with play.py.") from None
    if not old:
        data = load_dataset(path)
        scores, source = data["episode_scores"], str(data["source"])
        if len(scores) == 0:
            raise DatasetError(f"{path} holds no finished games; record some with python play.py.")
        score = float(scores.mean())
        who = _SOURCE_WORDS.get(source)
        sentence = (
            f"The human baseline is a mean score of {score:.1f} over {plural(len(scores), 'recorded game')}."
            if who is None
            else f"The baseline comes from {who}: mean score {score:.1f} over {plural(len(scores), 'game')}."
        )
        return Baseline(score, source, int(len(scores)), False, sentence)
    g, episodes, detected = _old_grid_and_episodes(states, samples)
    score = max(0.0, samples / episodes / g)
    sentence = (
        f"{path} is an old file without episode scores, so the human baseline is only a rough estimate: "
        f"about {score:.1f}, from {samples} moves in {plural(episodes, 'detected game' if detected else 'assumed game')}."
    )
    return Baseline(score, "human", episodes, True, sentence)


def _old_grid_and_episodes(states: np.ndarray, samples: int) -> tuple[int, int, bool]:
    """Grid size, episode count and whether episodes were detected, for an old states/actions file (see `human_baseline`)."""
    shape = states.shape[1:]
    square = [s for s in shape if shape.count(s) >= 2]
    g = square[0] if square else 10
    if len(shape) == 1 and int(round(shape[0] ** 0.5)) ** 2 == shape[0]:
        g = int(round(shape[0] ** 0.5))
    cells = states.reshape(len(states), -1) if len(states) else states
    coded = states.dtype.kind in "iuf" and cells.size and cells.shape[1] == g * g and set(np.unique(cells)) <= {0, 1, 2, 3}
    if coded and len(cells) > 1:
        length = np.isin(cells, (1, 2)).sum(axis=1)
        return max(int(g), 1), 1 + int((np.diff(length) < 0).sum()), True
    return max(int(g), 1), max(1, round(samples / 100)), False


