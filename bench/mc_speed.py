"""How fast the batched Monte Carlo search decides, against the plain way of writing it, and how close it runs to the
network's own speed.

At K 5 and H 20 on the 10 by 10 board with the default network (random weights, or a checkpoint given on the command
line) it measures, in one run:
  (a) decisions per second of `monte_carlo_actions` over 64 games searched together, on as many search threads as
      this machine has cores (each with one torch thread), and on one thread;
  (b) the same for a plain reference: one game at a time, a `copy.deepcopy` of the env per rollout, one network call
      with a batch of one per rollout move (the way the seed project does it);
  (c) the network's raw forward throughput at the batch the search uses (64 x 3 x 5 = 960) on one torch thread, each
      worker's setting, and the search's efficiency: rollout moves per second over it (only moves of live rollouts
      count). Also the stricter figure against the most the network alone does here: on as many torch threads as the
      search has threads, or split over that many Python threads as the search splits its games. Then the encoder
      and the network together, which shows how much of the search's time is the policy itself;
  (d) self-play moves per second with one and with two workers (the cores shared out among them).
(a), (b) and (c) take turns in short slices so that load from other programs hits them alike. Run from the repository
root: `python bench/mc_speed.py [checkpoint]`. The last line is `ratio: <(a)/(b)>`, (a) on all search threads.
"""

from __future__ import annotations

import argparse
import copy
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from snake_mc.game.observation import encode  # noqa: E402
from snake_mc.game.rules import SnakeBatch, SnakeEnv  # noqa: E402 - the path above must be set first
from snake_mc.learn.network import CheckpointError, SnakePolicy, load_policy, save_policy, select_actions  # noqa: E402
from snake_mc.run.config import TrainConfig  # noqa: E402
from snake_mc.run.phases import search_settings  # noqa: E402
from snake_mc.search.rollouts import MIN_GAMES_PER_THREAD, monte_carlo_actions, threads_phrase, usable_cores  # noqa: E402
from snake_mc.search.self_play import generate_self_play_data  # noqa: E402
from snake_mc.speech.narrate import Narrator  # noqa: E402

GRID, K, H, GAMES = 10, 5, 20, 64
ROUNDS = 3  # (a), (b) and (c) each get this many slices, in turn
SLICE_S = {"batched": 3.0, "reference": 2.0, "forward": 1.0}
_POOL: list[ThreadPoolExecutor] = []


def reference_action(env: SnakeEnv, policy: SnakePolicy, rng: np.random.Generator) -> int:
    """The plain search: per candidate action K deep copies, each rolled out with batch-of-one network calls."""
    values = []
    for action in range(3):
        total = 0.0
        for _ in range(K):
            sim = copy.deepcopy(env)
            _, reward, terminated, truncated, _ = sim.step(action)
            total += reward
            for _ in range(H - 1):
                if terminated or truncated:
                    break
                logits, _ = policy.evaluate_batch(sim.game)
                _, reward, terminated, truncated, _ = sim.step(int(select_actions(logits, False, 1.0, rng)[0]))
                total += reward
        values.append(total / K)
    return int(np.argmax(values))


class Batched:
    """64 games searched together on `threads` threads; a finished game is replaced at once, so every search covers
    64 live games."""

    def __init__(self, policy: SnakePolicy, threads: int = 1) -> None:
        self.policy, self.games, self.rng = policy, SnakeBatch(GAMES, GRID, seeds=np.arange(GAMES)), np.random.default_rng(0)
        self.threads = threads
        self.next_seed, self.decisions, self.rollout_moves, self.seconds = GAMES, 0, 0, 0.0

    def run(self, budget: float) -> None:
        start = time.perf_counter()
        while time.perf_counter() - start < budget:
            # The rollout search itself: a game in tour order would take the tour's move without a rollout (tour=True,
            # the search's default), and fresh games start in tour order, so this would time nothing.
            found = monte_carlo_actions(self.games, self.policy, K, H, seed=self.rng, threads=self.threads, tour=False)
            self.games.step(found.actions)
            self.decisions += GAMES
            self.rollout_moves += found.rollout_moves
            over = np.flatnonzero(self.games.done)
            if len(over):
                self.games.reset_games(over, self.next_seed + np.arange(len(over)))
                self.next_seed += len(over)
        self.seconds += time.perf_counter() - start


class Reference:
    """The plain search playing one game after another."""

    def __init__(self, policy: SnakePolicy) -> None:
        self.policy, self.env, self.rng = policy, SnakeEnv(GRID), np.random.default_rng(0)
        self.env.reset(seed=0)
        self.next_seed, self.decisions, self.seconds = 1, 0, 0.0

    def run(self, budget: float) -> None:
        start = time.perf_counter()
        while time.perf_counter() - start < budget:
            _, _, terminated, truncated, _ = self.env.step(reference_action(self.env, self.policy, self.rng))
            self.decisions += 1
            if terminated or truncated:
                self.env.reset(seed=self.next_seed)
                self.next_seed += 1
        self.seconds += time.perf_counter() - start


class Forward:
    """The network alone on 960 encoded positions, the search's largest batch; with `encoding`, the encoder too
    (what the policy costs per position in a rollout). The positions are the batched search's games, mid-play.
    `torch_threads` is torch's thread count for the pass; `split` runs the batch in that many equal parts on as many
    Python threads at once, one torch thread each, as the threaded search runs it."""

    def __init__(self, policy: SnakePolicy, games: SnakeBatch, encoding: bool = False, torch_threads: int = 1,
                 split: int = 1) -> None:  # fmt: skip
        self.states = games.repeat(3 * K)
        self.policy, self.x, self.encoding = policy, torch.from_numpy(encode(self.states)), encoding
        self.torch_threads, self.parts = torch_threads, torch.tensor_split(self.x, split)
        self.samples, self.seconds = 0, 0.0

    @torch.inference_mode()
    def _forward(self, x: torch.Tensor) -> None:
        self.policy(x)

    def _once(self) -> None:
        if len(self.parts) > 1:
            list(_pool(len(self.parts)).map(self._forward, self.parts))
        else:
            self._forward(torch.from_numpy(encode(self.states)) if self.encoding else self.x)

    def run(self, budget: float) -> None:
        before = torch.get_num_threads()
        torch.set_num_threads(self.torch_threads)
        try:
            self._once()
            start = time.perf_counter()
            while time.perf_counter() - start < budget:
                self._once()
                self.samples += len(self.x)
            self.seconds += time.perf_counter() - start
        finally:
            torch.set_num_threads(before)


def _pool(size: int) -> ThreadPoolExecutor:
    if not _POOL:
        _POOL.append(ThreadPoolExecutor(max_workers=size))
    return _POOL[0]


def _policy_of(checkpoint: str | None) -> tuple[SnakePolicy | None, str]:
    """The network to search with, and how to name it; None and a sentence when the checkpoint cannot be used."""
    if not checkpoint:
        torch.manual_seed(0)
        return SnakePolicy(GRID).eval(), "the default network with random weights"
    if not Path(checkpoint).exists():
        return None, f"Checkpoint {checkpoint} does not exist; pass a 10 by 10 checkpoint or none for random weights."
    try:
        return load_policy(checkpoint, grid_size=GRID), f"the network in {checkpoint}"
    except CheckpointError as exc:
        return None, str(exc)


def _measure_search(policy: SnakePolicy, search_threads: int) -> float:
    """The batched search against the plain reference, interleaved in slices so a busy machine slows both alike;
    prints the figures and returns the ratio of their decisions per second."""
    batched, serial, reference = Batched(policy, search_threads), Batched(policy), Reference(policy)
    for search in (batched, serial):
        search.run(2.0)  # warm-up, not counted: the games get under way
        search.decisions, search.rollout_moves, search.seconds = 0, 0, 0.0
    networks = {"on one torch thread": Forward(policy, batched.games)}
    if search_threads > 1:
        networks[f"on {search_threads} torch threads"] = Forward(policy, batched.games, torch_threads=search_threads)
        split = f"with the batch split over {search_threads} Python threads"
        networks[split] = Forward(policy, batched.games, split=search_threads)
    policy_cost = Forward(policy, batched.games, encoding=True)
    for _ in range(ROUNDS):
        for search in (batched, serial) if search_threads > 1 else (batched,):
            search.run(SLICE_S["batched"])
        reference.run(SLICE_S["reference"])
        for forward in (*networks.values(), policy_cost):
            forward.run(SLICE_S["forward"])
    rates = {how: forward.samples / forward.seconds for how, forward in networks.items()}
    _say_search(batched, serial if search_threads > 1 else None, reference, rates,
                policy_cost.samples / policy_cost.seconds, search_threads)
    return (batched.decisions / batched.seconds) / (reference.decisions / reference.seconds)


def _say_search(batched: Batched, serial: Batched | None, reference: Reference, rates: dict[str, float],  # noqa: PLR0913
                policy_rate: float, search_threads: int) -> None:
    fast, slow = batched.decisions / batched.seconds, reference.decisions / reference.seconds
    moves_rate = batched.rollout_moves / batched.seconds
    one_thread = rates["on one torch thread"]
    best_how, net_rate = max(rates.items(), key=lambda item: item[1])
    on = f"{search_threads} thread{'s' if search_threads != 1 else ''}"
    print(f"Batched search over {GAMES} games on {on}: {fast:,.0f} decisions per second, "
          f"with {moves_rate:,.0f} live rollout moves per second.")  # fmt: skip
    if serial is not None:
        print(f"The same search on one thread: {serial.decisions / serial.seconds:,.0f} decisions per second, "
              f"with {serial.rollout_moves / serial.seconds:,.0f} live rollout moves per second.")  # fmt: skip
    print(f"The plain reference, one game at a time with deep copies and batch-of-one network calls, makes "
          f"{slow:,.1f} decisions per second.")  # fmt: skip
    print(f"The network alone, at a batch of {GAMES * 3 * K}, runs "
          + "; ".join(f"{rate:,.0f} samples per second {how}" for how, rate in rates.items()) + ".")  # fmt: skip
    print(f"The search's efficiency, its rollout moves per second over the network's samples per second on one torch "
          f"thread (each worker's setting), is {moves_rate / one_thread:.2f}.")  # fmt: skip
    if serial is not None:
        print(f"Against the most the network alone does on this machine, {net_rate:,.0f} samples per second {best_how}, it is "
              f"{moves_rate / net_rate:.2f}; and the search on one thread against the network on one torch thread, "
              f"{serial.rollout_moves / serial.seconds / one_thread:.2f}.")  # fmt: skip
    print(f"On one thread the encoder and the network together run {policy_rate:,.0f} positions per second; the network "
          f"is {100 * policy_rate / one_thread:.0f} percent of the policy's cost.")  # fmt: skip
    print(f"efficiency: {moves_rate / one_thread:.2f}")


def _measure_self_play(policy: SnakePolicy, episodes: int) -> None:
    """Self-play's moves per second with one worker in this process and with two spawned ones."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "policy.pt"
        save_policy(policy, path)
        quiet = Narrator(progress="off", quiet=True)
        for workers in (1, 2):
            _, stats = generate_self_play_data(
                str(path), episodes, search_settings(TrainConfig(), K, H), num_workers=workers, seed=0, grid_size=GRID,
                narrator=quiet
            )
            who = "1 worker searching" if workers == 1 else f"{workers} workers, each searching"
            print(f"Self-play with {who} on {threads_phrase(stats['search_threads'])}: "
                  f"{stats['moves_per_second']:,.0f} moves per second, "
                  f"{stats['moves']:,} moves of {episodes} episodes in {stats['seconds']:.1f} seconds; "
                  f"the slowest worker played for {stats['worker_seconds']:.1f} of them, the rest is start-up.")  # fmt: skip
    print("Self-play runs one torch thread per worker and shares this machine's cores out as search threads; one worker "
          "runs in this process, two are spawned processes.")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(allow_abbrev=False,
                                     description="Monte Carlo search speed against a plain one-game reference.")
    parser.add_argument("checkpoint", nargs="?", help="a 10 by 10 policy checkpoint; default: the default network, random")
    parser.add_argument("--threads", type=int, default=1, help="torch threads for (a) and (b) (default 1)")
    parser.add_argument("--search-threads", type=int, default=None,
                        help=f"search threads for (a) (default: this machine's cores, {usable_cores()})")
    parser.add_argument("--episodes", type=int, default=16, help="self-play episodes for (d) (default 16)")
    args = parser.parse_args(argv)
    search_threads = usable_cores() if args.search_threads is None else args.search_threads
    if args.threads < 1 or args.episodes < 1 or search_threads < 1:
        print("The flags --threads, --search-threads and --episodes each need a whole number of at least 1.")
        return 2
    search_threads = min(search_threads, GAMES // MIN_GAMES_PER_THREAD)  # the most 64 games fill
    policy, what = _policy_of(args.checkpoint)
    if policy is None:
        print(what)
        return 2
    cfg = policy.model_config
    print(f"Searching with K {K} and H {H} on the {GRID} by {GRID} board, using {what}: "
          f"{cfg['layers']} hidden layers of {cfg['hidden']} units.")  # fmt: skip
    torch.set_num_threads(args.threads)
    print(
        f"Torch uses {args.threads} thread{'s' if args.threads != 1 else ''} in this process; one is the safe choice "
        "on a shared machine, where two threads that wait on each other can run ten times slower."
    )
    ratio = _measure_search(policy, search_threads)
    _measure_self_play(policy, args.episodes)
    print(f"ratio: {ratio:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
