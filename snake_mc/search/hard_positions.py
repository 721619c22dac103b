"""Data aimed at the moves that lose games: play the policy alone, rewind its lost games, search there deeper.

The search's ordinary self-play games teach the network little: the network already agrees with 95 to 98 percent of
the search's moves, and a game is decided by the few it gets wrong, late, where a 20-move rollout cannot see the
end (docs/experiments.md). So this module finds those moves where they happen. It plays the policy greedily on
seeded games (cheap: all games in lockstep, one network call a move), keeps the last `rewind` positions before every
loss (a death or starvation, never a filled board), and labels each with a deeper search (more rollouts, a longer
horizon) than self-play can afford on every move. The labelled positions are a dataset in `datasets.py`'s format,
source "mc", so training reads them like any self-play archive.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from snake_mc.common.constants import HARD_WORK_PER_S
from snake_mc.game.datasets import STATE_KEYS, empty_dataset
from snake_mc.game.rules import SnakeBatch
from snake_mc.learn.network import SnakePolicy
from snake_mc.search.rollouts import monte_carlo_actions
from snake_mc.speech.narrate import Narrator, given_or_console


@dataclass(frozen=True)
class HardPositionSettings:
    """How many games to play, how far to rewind each loss, and how deep to search there: built from the run's
    configuration (run/phases.hard_position_settings), with no defaults of its own. (The configuration's margin is 0:
    before a starvation the best a move can show is one apple, which a margin of 1 would never let overrule the
    policy; docs/experiments.md.)"""

    games: int
    rewind: int
    K: int
    H: int
    margin: float


# Positions searched per call: bounds the rollouts held in memory, and news comes after each.
HARD_BATCH = 1024
# The detour search (detours.DETOUR_ROLLOUTS) costs up to 200 moves x 3 x its rollouts per hungry position, and most
# positions before a starvation are hungry: off here, where tens of thousands are searched.
HARD_DETOURS = 0


def play_and_keep_losses(
    policy: SnakePolicy, settings: HardPositionSettings, grid_size: int, seed: int, reward: str = "default",
    narrator: Narrator | None = None,
) -> tuple[dict[str, np.ndarray], np.ndarray, dict]:
    """Play `settings.games` greedy games (game i on seed `seed + i`); return the states of the last `rewind` moves
    of every lost game (oldest first, with the game's index), and a summary of the games."""
    n = int(settings.games)
    games = SnakeBatch(n, grid_size, seeds=int(seed) + np.arange(n), reward=reward)
    ring = max(1, int(settings.rewind))
    # A ring of the last `ring` positions of every game: memory stays ring x games, however long the games last.
    kept = {k: None for k in STATE_KEYS}
    moves = np.zeros(n, dtype=np.int64)
    alive = np.arange(n)
    score = np.zeros(n, dtype=np.int64)
    won = np.zeros(n, dtype=bool)
    starved = np.zeros(n, dtype=bool)
    step = 0
    # Progress in games' worth of moves (a proven player's game lasts about grid_size**3 moves): the games end
    # together near the end, so a count of ended games said "1 of 1,000" for most of the phase.
    per_game = float(grid_size) ** 3
    played = 0
    progress = given_or_console(narrator).progress(n, "Playing the policy alone", unit="games' worth of moves",
                                                   steady=True)
    while len(alive):
        states = games.export_states()
        for key, value in states.items():
            if kept[key] is None:
                kept[key] = np.zeros((n, ring, *value.shape[1:]), dtype=value.dtype)
            kept[key][alive, step % ring] = value
        actions = policy.act(games, greedy=True)
        games.step(actions)
        step += 1
        moves[alive] += 1
        played += len(alive)
        over = games.done
        if over.any():
            ended = alive[over]
            score[ended], won[ended] = games.score[over], games.won[over]
            starved[ended] = games.truncated[over] & ~games.won[over]
            alive = alive[~over]
            games = games.take(np.flatnonzero(~over))
        progress.update(max(0, min(n - 1, int(played / per_game)) - progress.count))
    progress.close()
    lost = np.flatnonzero(~won)
    states = {k: [] for k in STATE_KEYS}
    owner = []
    for i in lost:
        count = int(min(ring, moves[i]))
        slots = (np.arange(moves[i] - count, moves[i])) % ring  # oldest first
        for key in STATE_KEYS:
            states[key].append(kept[key][i, slots])
        owner.append(np.full(count, i, dtype=np.int64))
    out = {k: (np.concatenate(v) if v else np.zeros((0, *kept[k].shape[2:]), kept[k].dtype)) for k, v in states.items()}
    summary = {"games": n, "mean_score": float(score.mean()), "win_rate": float(won.mean()),
               "starved": int(starved.sum()), "lost": len(lost)}  # fmt: skip
    return out, (np.concatenate(owner) if owner else np.zeros(0, np.int64)), summary


def label_positions(
    policy: SnakePolicy, states: dict[str, np.ndarray], owner: np.ndarray, settings: HardPositionSettings, seed: int,
    reward: str = "default", threads: int = 1, narrator: Narrator | None = None,
) -> dict[str, np.ndarray]:
    """Search every position with K rollouts of H moves per action and return them as an "mc" dataset."""
    grid = int(states["ttl"].shape[1])
    data = empty_dataset(grid, "mc", with_values=True)
    n = len(owner)
    if n == 0:
        return data
    actions, values = np.zeros(n, np.int8), np.zeros((n, 3), np.float32)
    say = given_or_console(narrator)
    expected = say.expected_seconds("hard", n * settings.K * settings.H, HARD_WORK_PER_S)
    progress = say.progress(n, "Searching the positions before the losses", unit="positions", expected_s=expected,
                            plan_detail=True)  # the caller has said the whole phase's expectation
    for start in range(0, n, HARD_BATCH):
        part = slice(start, min(n, start + HARD_BATCH))
        batch = SnakeBatch.from_states({k: v[part] for k, v in states.items()},
                                       seeds=int(seed) + np.arange(part.start, part.stop), reward=reward)
        found = monte_carlo_actions(batch, policy, settings.K, settings.H, margin=settings.margin,
                                    seed=int(seed) + start, threads=threads, detour_rollouts=HARD_DETOURS)
        actions[part], values[part] = found.actions, found.values
        progress.update(part.stop - part.start)
    progress.close()
    episodes, episode = np.unique(owner, return_inverse=True)
    for key in STATE_KEYS:
        data[key] = states[key].astype(data[key].dtype)
    data["actions"] = actions
    data["action_values"] = values
    data["episode"] = episode.astype(np.int32)
    data["episode_scores"] = np.zeros(len(episodes), np.int32)
    return data


def hard_positions(
    policy: SnakePolicy, settings: HardPositionSettings, grid_size: int, seed: int, reward: str = "default",
    threads: int = 1, narrator: Narrator | None = None,
) -> tuple[dict[str, np.ndarray], dict]:
    """The whole lever: play, keep the losses' last moves, label them deeper. Returns (dataset, stats)."""
    start = time.perf_counter()
    previous = torch.get_num_threads()
    torch.set_num_threads(1)  # the search's own threads use the cores; torch's would only wait on them
    try:
        with torch.inference_mode():
            states, owner, summary = play_and_keep_losses(policy, settings, grid_size, seed, reward, narrator)
            data = label_positions(policy, states, owner, settings, seed, reward, threads, narrator)
    finally:
        torch.set_num_threads(previous)
    policy_moves = 0
    if len(owner):
        batch = SnakeBatch.from_states(states, reward=reward)
        policy_moves = int((policy.act(batch, greedy=True) != data["actions"]).sum())
    summary.update(positions=len(owner), overruled=policy_moves, seconds=time.perf_counter() - start)
    return data, summary
