"""How many torch threads training and evaluation should use, idle and on a busy machine.

Torch's intra-op threads wait for each other at every operation: when another program holds a core, a thread that
lost its core holds the others up, so two threads can run slower than one (issue 12, finding 9). This measures, in
alternating short slices so that any load hits every setting alike:
  training: imitation samples per second (`train_imitation`, one epoch of scripted games) on 1..cores torch threads;
  evaluation: greedy moves per second (`evaluate_policy`) on 1..cores torch threads.
Run it once on an idle machine and once beside busy processes (`yes > /dev/null &` per core) and compare; the chosen
rule lives in `threads.py` and the figures in docs/experiments.md. Usage: `python bench/threads.py [--rounds 3]`.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from snake_mc.game.scripted import record_scripted  # noqa: E402
from snake_mc.learn.learning import train_imitation  # noqa: E402
from snake_mc.learn.network import load_policy  # noqa: E402
from snake_mc.search.evaluation import evaluate_policy  # noqa: E402 - the path above must be set first
from snake_mc.speech.narrate import Narrator  # noqa: E402


def _training_rate(demos: dict, threads: int) -> float:
    torch.set_num_threads(threads)
    started = time.perf_counter()
    train_imitation(demos, epochs=1, val_fraction=0.0, narrator=Narrator(quiet=True), device="cpu")
    samples = len(demos["actions"])
    return samples / (time.perf_counter() - started)


def _evaluation_rate(policy, games: int, threads: int) -> float:
    torch.set_num_threads(threads)
    result = evaluate_policy(policy, games, seed=10_000, narrator=Narrator(quiet=True))
    return float(np.sum(result["lengths"])) / result["seconds"]


def main() -> None:
    parser = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="Alternating rounds per setting (default 3).")
    parser.add_argument("--games", type=int, default=20, help="Scripted games to train on (default 20).")
    parser.add_argument("--eval-games", type=int, default=100, help="Greedy games per evaluation slice (default 100).")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    settings = list(range(1, cores + 1))
    demos = record_scripted(args.games, narrator=Narrator(quiet=True))
    policy = load_policy(ROOT / "models" / "snake10.pt")
    _training_rate(demos, 1), _evaluation_rate(policy, 8, 1)  # compile and warm up outside the timings
    train: dict[int, list[float]] = {t: [] for t in settings}
    play: dict[int, list[float]] = {t: [] for t in settings}
    for _ in range(args.rounds):
        for t in settings:
            train[t].append(_training_rate(demos, t))
            play[t].append(_evaluation_rate(policy, args.eval_games, t))
    load = os.getloadavg()[0]
    print(f"On {cores} cores at a load of {load:.1f}, the median of {args.rounds} rounds:")
    for t in settings:
        print(f"  {t} torch threads: training {np.median(train[t]):,.0f} samples a second, "
              f"evaluation {np.median(play[t]):,.0f} moves a second.")  # fmt: skip
    best_train = max(settings, key=lambda t: np.median(train[t]))
    best_play = max(settings, key=lambda t: np.median(play[t]))
    print(f"best: training {best_train} threads, evaluation {best_play} threads")


if __name__ == "__main__":
    main()
