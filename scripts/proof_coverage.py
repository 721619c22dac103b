"""How often the stateless proof (cycle_proof.prove_moves: no kept plan, every move searched) proves a move, along
the CyclePlayer's own games (which keep their last proof between moves), for several node budgets.

    python scripts/proof_coverage.py [--games 200] [--grid 10] [--seed 20000] [--budgets 100,300,1000,3000]

A network can only see a proof as an input if the proof is a fact of the position, so this measures the facts without
the player's hidden state. The CyclePlayer plays with its default settings; at every position it meets, the stateless
proof runs once per budget (the other settings at their defaults) and the script prints, per budget: the share of
positions with at least one move proven; the share where the CyclePlayer's move is proven; the share where the
stateless-proven move with the fewest moves to the food is the CyclePlayer's move (ties to the lowest relative move,
and, in brackets, the share where the player's move is among the tied nearest); and the microseconds per position
(mean and 99th percentile, wall clock around prove_moves, which includes its Python-side arrays).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from snake_mc.game.cycle_player import CyclePlayer  # noqa: E402
from snake_mc.game.cycle_proof import NOT_PROVEN, ProofSettings, prove_moves  # noqa: E402
from snake_mc.game.rules import SnakeBatch  # noqa: E402
from snake_mc.game.scripted import scripted_action  # noqa: E402

COLUMNS = ("any", "move", "nearest", "nearest_tied", "us")


def measure_position(batch: SnakeBatch, i: int, ttl_row: np.ndarray, move: int, settings: list[ProofSettings],
                     rows: dict[int, dict[str, list]]) -> None:
    """The stateless proof of game i's position under each budget, against the move the player took there."""
    for s in settings:
        t0 = time.perf_counter()
        safe, to_food = prove_moves(batch, i, s, ttl_row)
        us = (time.perf_counter() - t0) * 1e6
        near = to_food == to_food.min()
        proven = bool(safe.any())
        row = rows[s.budget]
        row["any"].append(proven)
        row["move"].append(bool(safe[move]))
        row["nearest"].append(proven and int(np.argmin(to_food)) == move)
        row["nearest_tied"].append(proven and bool(near[move]) and to_food[move] < NOT_PROVEN)
        row["us"].append(us)


def play_and_measure(g: int, seeds: np.ndarray, budgets: list[int]) -> tuple[dict[int, dict[str, list]], int]:
    """The CyclePlayer's games; returns the per-budget rows and the number of fallback moves (no proof kept or new)."""
    settings = [ProofSettings(budget=b) for b in budgets]
    warm = SnakeBatch(1, g, seeds=[0])  # compile before timing
    for s in settings:
        prove_moves(warm, 0, s)
    batch = SnakeBatch(len(seeds), g, seeds=seeds)
    player = CyclePlayer(batch)
    rows = {b: {c: [] for c in COLUMNS} for b in budgets}
    fallbacks = 0
    while not batch.done.all():
        ttl = batch.ttl().astype(np.int64)
        actions = np.ones(batch.num_games, np.int64)
        for i in np.flatnonzero(~batch.done):
            a = player.act_one(batch, int(i))
            if a < 0:
                fallbacks += 1
                a = scripted_action(batch, int(i))
            actions[i] = a
            measure_position(batch, int(i), ttl[i], int(a), settings, rows)
        batch.step(actions)
    print(f"CyclePlayer: filled {int(batch.won.sum())}/{batch.num_games}, moves per apple "
          f"{batch.t.sum() / max(batch.score.sum(), 1):.2f}, fallback moves {fallbacks}")
    return rows, fallbacks


def report(rows: dict[int, dict[str, list]]) -> None:
    print("budget | positions | any move proven | player's move proven | nearest = player's (tied) | us mean | us p99")
    for budget, row in rows.items():
        us = np.array(row["us"])
        share = {c: 100 * np.mean(row[c]) for c in COLUMNS[:4]}
        print(f"{budget:6d} | {len(us):9d} | {share['any']:14.2f}% | {share['move']:19.2f}% | "
              f"{share['nearest']:6.2f}% ({share['nearest_tied']:.2f}%) | {us.mean():7.0f} | {np.percentile(us, 99):6.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--games", type=int, default=200)
    parser.add_argument("--grid", type=int, default=10)
    parser.add_argument("--seed", type=int, default=20000)
    parser.add_argument("--budgets", default="100,300,1000,3000", help="DFS nodes per completion, comma-separated")
    args = parser.parse_args()
    start = time.perf_counter()
    rows, _ = play_and_measure(args.grid, np.arange(args.seed, args.seed + args.games),
                               [int(b) for b in args.budgets.split(",")])
    report(rows)
    print(f"wall {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
