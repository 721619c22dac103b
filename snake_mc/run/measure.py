"""The run's games: where its evaluations start, how one is played and heard, and how files are named aloud.

Every evaluation of a run plays the same seeded games (the decisions' stream), so any two policies compare paired.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from snake_mc.common.seeds import Stream, first_game
from snake_mc.run.config import TrainConfig
from snake_mc.search.evaluation import evaluate_policy
from snake_mc.speech import narrate


def eval_seed(cfg: TrainConfig) -> int:
    """The seed of the first game of this run's evaluations (fast and full games start at the same seed): the
    decisions' stream, which no other stream, run seed or fixed set reaches (snake_mc/common/seeds.py)."""
    return first_game(Stream.DECISIONS, cfg.seed)


def evaluate(policy, cfg: TrainConfig, episodes: int, narrator: narrate.Narrator) -> dict:
    return evaluate_policy(policy, episodes, grid_size=cfg.grid_size, seed=eval_seed(cfg), reward=cfg.reward,
                           narrator=narrator)


def rel(cfg: TrainConfig, path: Path) -> str:
    """A file named as the listener knows it: relative to the work folder (data/policy_mc.pt)."""
    try:
        return str(Path(path).relative_to(cfg.paths.workdir))
    except ValueError:
        return str(path)


def speak_score(ev: dict) -> str:
    """An evaluation as heard: the score, the boards filled, and (once a policy fills boards) how fast it eats."""
    mpa = ev.get("moves_per_apple", np.nan)
    speed = f", {mpa:.1f} moves per apple" if np.isfinite(mpa) else ""
    return f"mean score {ev['mean_score']:.1f}, {100 * ev['win_rate']:.0f} percent of boards filled{speed}"
