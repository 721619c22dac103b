"""What Monte Carlo search adds to a policy: the same seeded games played greedily by the policy alone, then with
every move chosen by `monte_carlo_actions` (self-play's default K and H, its rollouts as in self-play: kept proofs,
the policy where none is proven).

Game i of both runs uses seed `seed + i` (by default the experiments' tuning set, from 20,000), so the two are
compared on the same games. The measure is what a game is judged on: the share of boards filled first, then moves per
apple, then the mean score. Run from the repository root: `python bench/mc_quality.py [checkpoint]` (default
data/policy_imitation.pt). The last line is `gain: <boards filled with the search - alone, in percentage points>`.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from snake_mc.game.rules import SnakeBatch  # noqa: E402 - the path above must be set first
from snake_mc.learn.network import CheckpointError, load_policy  # noqa: E402
from snake_mc.run.config import TrainConfig  # noqa: E402
from snake_mc.search.rollouts import monte_carlo_actions, threads_phrase, usable_cores  # noqa: E402

SELF_PLAY = TrainConfig()  # the search's settings as a default run has them

DEFAULT_CHECKPOINT = "data/policy_imitation.pt"
MAKE_IT = "python play.py --scripted 200 && python train_imitation.py"


def play(grid_size: int, num_games: int, seed: int, choose: Callable[[SnakeBatch], np.ndarray]) -> SnakeBatch:
    """`num_games` games (game i on seed `seed + i`) played to their end, every live game moved together by `choose`;
    the finished batch (score, won, and t, the moves each game played)."""
    games = SnakeBatch(num_games, grid_size, seeds=seed + np.arange(num_games))
    while not games.done.all():
        live = np.flatnonzero(~games.done)
        actions = np.ones(num_games, dtype=np.int64)  # finished games ignore their action
        now = games.take(live)
        actions[live] = choose(now)
        games.keep_memory_of(live, now)  # the proof of each move played is kept (proof_memory.py)
        games.step(actions)
    return games


def said(games: SnakeBatch) -> str:
    apples = max(int(games.score.sum()), 1)
    return (f"{100 * games.won.mean():.1f} percent of boards filled, {games.t.sum() / apples:.2f} moves per apple, "
            f"mean score {games.score.mean():.1f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(allow_abbrev=False, description="Mean score of a policy alone and with Monte Carlo search.")
    parser.add_argument("checkpoint", nargs="?", default=DEFAULT_CHECKPOINT, help=f"policy (default {DEFAULT_CHECKPOINT})")
    parser.add_argument("--games", type=int, default=100, help="seeded games per player (default 100)")
    parser.add_argument("--seed", type=int, default=20_000, help="game i uses seed + i (default 20000, the tuning set)")
    parser.add_argument("-k", type=int, default=SELF_PLAY.mc_K, help=f"rollouts per candidate move (default {SELF_PLAY.mc_K})")
    parser.add_argument("--horizon", type=int, default=SELF_PLAY.mc_H, help=f"moves per rollout (default {SELF_PLAY.mc_H})")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1: fastest on a busy 2-core machine)")
    parser.add_argument("--search-threads", type=int, default=None,
                        help="threads the search runs on, which changes its speed and never its moves (default: the cores)")
    args = parser.parse_args(argv)
    search_threads = usable_cores() if args.search_threads is None else args.search_threads
    if not Path(args.checkpoint).exists():
        print(f"Checkpoint {args.checkpoint} does not exist; make it with {MAKE_IT}.")
        return 2
    if min(args.games, args.k, args.horizon, args.threads, search_threads) < 1:
        print("The flags --games, -k, --horizon, --threads and --search-threads each need a whole number of at least 1.")
        return 2
    torch.set_num_threads(args.threads)
    try:
        policy = load_policy(args.checkpoint)
    except CheckpointError as exc:
        print(f"{str(exc).rstrip('.')}; make a new one with {MAKE_IT}.")
        return 2
    g = policy.grid_size
    print(f"Playing the same {args.games} seeded {g} by {g} games twice with {args.checkpoint}, on {args.threads} torch thread"
          f"{'s' if args.threads != 1 else ''}.")  # fmt: skip

    start = time.perf_counter()
    alone = play(g, args.games, args.seed, lambda batch: policy.act(batch, greedy=True))
    print(f"The policy alone, greedy: {said(alone)}, in {time.perf_counter() - start:.1f} seconds.")

    rng = np.random.default_rng(args.seed)
    start = time.perf_counter()

    def search(batch: SnakeBatch) -> np.ndarray:
        return monte_carlo_actions(batch, policy, args.k, args.horizon, seed=rng, threads=search_threads).actions

    searched = play(g, args.games, args.seed, search)
    print(f"With Monte Carlo search, K {args.k} and H {args.horizon}: {said(searched)}, in "
          f"{time.perf_counter() - start:.0f} seconds, searching on {threads_phrase(search_threads)}.")
    gain = 100 * (searched.won.mean() - alone.won.mean())
    diff = searched.won.astype(float) - alone.won
    change = f"Search {'raises' if gain >= 0 else 'lowers'} the share of boards filled by {abs(gain):.1f} points"
    if len(diff) > 1:
        change += f", with a standard error of {100 * diff.std(ddof=1) / np.sqrt(len(diff)):.1f} on these paired games"
    both = searched.won & alone.won
    if both.sum() > 1:
        per_apple = (searched.t - alone.t)[both] / (g * g - 3)
        change += (f"; on the {both.sum()} boards both filled, moves per apple change by {per_apple.mean():+.2f} "
                   f"(standard error {per_apple.std(ddof=1) / np.sqrt(both.sum()):.2f})")
    print(change + ".")
    print(f"gain: {gain:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
