"""The greedy proven player (snake_mc/game/cycle_player.py) against the fixed-tour teacher, on the same seeds.

    python scripts/cycle_player.py [--games 200] [--grid 10] [--seed 20000] [--budget 1000] [--no-teacher] [--verify]

The other options (--kinds, --variants, --slack, --enum-cap, --comp-cap, --warnsdorff) are the ablations; their
defaults are the configuration reported.

Prints, for each player: boards filled out of N, deaths, starvations, moves per apple (total moves / total apples,
from length 3), and for the proven player the microseconds per proof call (one call = one position, all three
relative moves; mean and 99th percentile, wall clock around the call) and the share of positions where no move was
proven and the teacher's move was played instead.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from snake_mc.game.cycle_player import CyclePlayer  # noqa: E402
from snake_mc.game.cycle_proof import ProofSettings  # noqa: E402
from snake_mc.game.rules import SnakeBatch  # noqa: E402
from snake_mc.game.scripted import scripted_action, tour_moves  # noqa: E402


def teacher_actions(batch: SnakeBatch, live: np.ndarray) -> np.ndarray:
    actions, applies = tour_moves(batch)
    for i in live[~applies[live]]:
        actions[i] = scripted_action(batch, int(i))
    return actions


def summary(name: str, batch: SnakeBatch, wall: float) -> dict:
    n = batch.num_games
    filled = int(batch.won.sum())
    died = int((batch.terminated & ~batch.won).sum())
    starved = int(batch.truncated.sum())
    moves, apples = int(batch.t.sum()), int(batch.score.sum())
    mpa = moves / max(apples, 1)
    per_game = batch.t / np.maximum(batch.score, 1)
    se = per_game.std(ddof=1) / np.sqrt(n) if n > 1 else float("nan")
    print(f"{name}: filled {filled}/{n}, died {died}, starved {starved}, moves per apple {mpa:.2f} (per-game SE {se:.2f}) "
          f"({moves} moves, {apples} apples), wall {wall:.1f} s")
    return {"filled": filled, "mpa": mpa}


def play_teacher(g: int, seeds: np.ndarray) -> None:
    batch = SnakeBatch(len(seeds), g, seeds=seeds)
    start = time.perf_counter()
    while True:
        live = np.flatnonzero(~batch.done)
        if len(live) == 0:
            break
        batch.step(teacher_actions(batch, live))
    summary("teacher (tour_moves + scripted_action)", batch, time.perf_counter() - start)


def verify_plan(player: CyclePlayer, batch: SnakeBatch, i: int) -> None:
    """Check a kept proof whose prefix is spent: its successor array is one cycle through every cell, and the body
    lies on it as a contiguous run, tail ... head, in order."""
    g = batch.grid_size
    n = g * g
    succ = player.succ[i]
    seen, cur = set(), 0
    for _ in range(n):
        seen.add(cur)
        nxt = int(succ[cur])
        assert abs(nxt // g - cur // g) + abs(nxt % g - cur % g) == 1, "cycle step is not a board step"
        cur = nxt
    assert cur == 0 and len(seen) == n, "successors are not one Hamiltonian cycle"
    ttl = batch.ttl()[i]
    body = np.argsort(ttl)[n - int(batch.length[i]):]  # tail first
    for a, b in zip(body[:-1], body[1:]):
        assert succ[a] == b, "body is not a contiguous run of the cycle"


def play_cycle(g: int, seeds: np.ndarray, settings: ProofSettings, verify: bool = False) -> None:
    warm = SnakeBatch(1, g, seeds=[0])  # compile before timing
    CyclePlayer(warm, settings).act_one(warm, 0)
    batch = SnakeBatch(len(seeds), g, seeds=seeds)
    player = CyclePlayer(batch, settings)
    times: list[float] = []
    fallbacks = 0
    start = time.perf_counter()
    while True:
        live = np.flatnonzero(~batch.done)
        if len(live) == 0:
            break
        actions, need, checks = proven_actions(player, batch, live, times, verify)
        if need:
            fallbacks += len(need)
            actions[need] = teacher_actions(batch, np.array(need))[need]
        batch.step(actions)
        for i in checks:
            if not batch.done[i]:
                verify_plan(player, batch, i)
    wall = time.perf_counter() - start
    summary(f"cycle player ({settings})", batch, wall)
    us = np.array(times) * 1e6
    runs, nodes, exhausted = player.stats
    print(f"  proof call: mean {us.mean():.0f} us, p99 {np.percentile(us, 99):.0f} us, max {us.max():.0f} us "
          f"over {len(us)} positions; fallback share {fallbacks / len(us):.4%} ({fallbacks} positions); "
          f"completions {runs}, DFS nodes {nodes}, budget exhausted {exhausted}")


def proven_actions(player: CyclePlayer, batch: SnakeBatch, live: np.ndarray, times: list[float],
                   verify: bool) -> tuple[np.ndarray, list[int], list[int]]:
    """The player's move for every live game, each call timed into `times`: (actions, games with no proven move,
    games whose kept proof is to be checked after the step)."""
    actions = np.ones(batch.num_games, np.int64)
    need, checks = [], []
    for i in live:
        t0 = time.perf_counter()
        a = player.act_one(batch, int(i))
        times.append(time.perf_counter() - t0)
        if a < 0:
            need.append(int(i))
        else:
            actions[i] = a
            if verify and player.npre[i] == 0:
                checks.append(int(i))
    return actions, need, checks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--games", type=int, default=200)
    parser.add_argument("--grid", type=int, default=10)
    parser.add_argument("--seed", type=int, default=20000)
    defaults = ProofSettings()
    parser.add_argument("--budget", type=int, default=defaults.budget)
    parser.add_argument("--no-teacher", action="store_true")
    parser.add_argument("--verify", action="store_true", help="check every kept cycle after each move (slow)")
    parser.add_argument("--kinds", type=int, default=defaults.kinds,
                        help="ablation bits: 1 kept plan, 2 shortcut, 4 cycle now, 8 longer shortcuts")
    parser.add_argument("--warnsdorff", action="store_true", help="cycle-now search ignores the food (ablation)")
    parser.add_argument("--variants", type=int, default=defaults.variants, help="other shortest paths tried per move (0..5)")
    parser.add_argument("--slack", type=int, default=defaults.slack,
                        help="longer shortcuts: up to 2*slack moves over the shortest")
    parser.add_argument("--enum-cap", type=int, default=defaults.enum_cap, help="path cells enumerated per longer-shortcut level")
    parser.add_argument("--comp-cap", type=int, default=defaults.comp_cap, help="completions per longer-shortcut level")
    args = parser.parse_args()
    seeds = np.arange(args.seed, args.seed + args.games)
    settings = ProofSettings(args.budget, args.kinds, not args.warnsdorff, args.variants, args.slack, args.enum_cap,
                             args.comp_cap)
    play_cycle(args.grid, seeds, settings, args.verify)
    if not args.no_teacher:
        play_teacher(args.grid, seeds)


if __name__ == "__main__":
    main()
