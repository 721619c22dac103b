"""How many Snake moves per second the batched engine makes, against a plain one-game Python Snake.

Monte Carlo search lives on the batched engine's speed, so this measures it on the default 10 by 10 board under
random play, with finished games restarted at once so every counted move is a live game's move. The reference is
the obvious pure-Python game (a deque of cells and a set for occupancy) with the same rules, so the ratio says what
batching buys. Run from the repository root: `python bench/env_speed.py`. The last line is `ratio: <x.xx>`.
"""

from __future__ import annotations

import random
import sys
import time
from collections import deque
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from snake_mc.game.rules import SnakeBatch  # noqa: E402 - the path above must be set first

GRID = 10
NUM_GAMES = 4096
BUDGET_S = 3.0
ACTION_ROWS = 512  # pre-drawn random actions, cycled, so drawing them is not timed
SLICES = 6  # the two engines take turns in slices of BUDGET_S / SLICES seconds

# Absolute directions clockwise: up, right, down, left; relative actions 0 left, 1 straight, 2 right.
_DR = (-1, 0, 1, 0)
_DC = (0, 1, 0, -1)


class ReferenceSnake:
    """One game of Snake in plain Python, the way one would write it without numpy; same rules as env.py."""

    def __init__(self, grid_size: int, seed: int, starve_steps: int | None = None) -> None:
        self.g = grid_size
        self.starve_steps = starve_steps if starve_steps is not None else 2 * grid_size * grid_size
        self.rng = random.Random(seed)
        mid = grid_size // 2
        self.body: deque[tuple[int, int]] = deque([(mid, mid), (mid, mid - 1), (mid, mid - 2)])  # head first
        self.occupied = set(self.body)
        self.direction = 1
        self.since_food = 0
        self.score = 0
        self.food: tuple[int, int] | None = None
        self._place_food()

    def _place_food(self) -> None:
        """A uniformly drawn free cell: rejection sampling while the board is mostly empty, else a list of free cells."""
        g = self.g
        if len(self.occupied) >= g * g:
            self.food = None
        elif 2 * len(self.occupied) < g * g:
            while True:
                cell = (self.rng.randrange(g), self.rng.randrange(g))
                if cell not in self.occupied:
                    self.food = cell
                    return
        else:
            free = [(r, c) for r in range(g) for c in range(g) if (r, c) not in self.occupied]
            self.food = self.rng.choice(free)

    def step(self, action: int) -> tuple[float, bool]:
        """Move once; returns (reward, done). Death by wall or body, the tail's cell is free, truncation by hunger."""
        d = (self.direction + action + 3) & 3
        r, c = self.body[0]
        r += _DR[d]
        c += _DC[d]
        g = self.g
        if not (0 <= r < g and 0 <= c < g):
            return -1.0, True
        cell = (r, c)
        ate = cell == self.food
        if not ate:
            tail = self.body.pop()
            self.occupied.discard(tail)
        if cell in self.occupied:
            return -1.0, True
        self.body.appendleft(cell)
        self.occupied.add(cell)
        self.direction = d
        if ate:
            self.score += 1
            self.since_food = 0
            if len(self.body) >= g * g:
                return 1.0, True
            self._place_food()
            return 1.0, False
        self.since_food += 1
        return 0.0, self.since_food >= self.starve_steps


class BatchedRun:
    """`SnakeBatch` under random play, restarting finished games with fresh seeds after each step."""

    def __init__(self, num_games: int = NUM_GAMES, grid: int = GRID) -> None:
        self.num_games = num_games
        self.actions = np.random.default_rng(0).integers(0, 3, size=(ACTION_ROWS, num_games))
        self.batch = SnakeBatch(num_games, grid, seeds=np.arange(num_games))
        self.next_seed = num_games
        self.row = 0

    def run(self, budget_s: float) -> tuple[int, float]:
        """Step for about `budget_s` seconds; returns (live game-moves made, seconds taken)."""
        batch, moves = self.batch, 0
        start = time.perf_counter()
        while True:
            batch.step(self.actions[self.row])
            moves += self.num_games  # every game was live before this step
            done = np.flatnonzero(batch.done)
            if len(done):
                batch.reset_games(done, np.arange(self.next_seed, self.next_seed + len(done)))
                self.next_seed += len(done)
            self.row = (self.row + 1) % ACTION_ROWS
            elapsed = time.perf_counter() - start
            if elapsed >= budget_s:
                return moves, elapsed


class ReferenceRun:
    """One plain Python game under random play, starting a new game after each finish."""

    def __init__(self, grid: int = GRID) -> None:
        rng = random.Random(0)
        self.actions = [rng.randrange(3) for _ in range(65536)]
        self.grid = grid
        self.seed = 0
        self.game = ReferenceSnake(grid, self.seed)
        self.i = 0

    def run(self, budget_s: float) -> tuple[int, float]:
        """Step for about `budget_s` seconds, checking the clock every 2048 moves; returns (moves, seconds)."""
        moves = 0
        start = time.perf_counter()
        while True:
            for _ in range(2048):
                _, done = self.game.step(self.actions[self.i])
                self.i = (self.i + 1) & 65535
                if done:
                    self.seed += 1
                    self.game = ReferenceSnake(self.grid, self.seed)
            moves += 2048
            elapsed = time.perf_counter() - start
            if elapsed >= budget_s:
                return moves, elapsed


def measure(budget_s: float = BUDGET_S, slices: int = SLICES) -> tuple[float, float]:
    """Moves per second of (batched, reference), each timed for `budget_s` in total. The two take turns in short
    slices so that load from other processes on a shared machine falls on both alike and the ratio stays fair."""
    runs = (BatchedRun(), ReferenceRun())
    totals = [[0, 0.0], [0, 0.0]]
    for _ in range(slices):
        for run, total in zip(runs, totals):
            moves, seconds = run.run(budget_s / slices)
            total[0] += moves
            total[1] += seconds
    return totals[0][0] / totals[0][1], totals[1][0] / totals[1][1]


def _speak(rate: float) -> str:
    """A rate rounded for listening: millions with one decimal, or thousands."""
    if rate >= 1e6:
        return f"{rate / 1e6:.1f} million"
    return f"{rate / 1e3:.0f} thousand"


def main() -> None:
    batched, reference = measure()
    print(f"The batched engine made {_speak(batched)} game moves per second with {NUM_GAMES} games on a {GRID} by {GRID} board.")
    print(f"The plain Python reference game made {_speak(reference)} moves per second on the same board.")
    print(f"ratio: {batched / reference:.2f}")


if __name__ == "__main__":
    main()
