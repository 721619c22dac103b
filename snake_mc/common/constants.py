"""Names and values several modules share, declared once, with no heavy imports (config.py reads them, and
`import config` must stay cheap: no numba, no gymnasium, no torch)."""

from __future__ import annotations

from dataclasses import dataclass

BACKENDS = ("process", "ray")  # where self-play workers run
MC_TARGETS = ("soft", "hard")  # what training learns from the search: its action values, or its chosen move
PROGRESS_MODES = ("auto", "bar", "lines", "off")  # auto means lines: a bar only when asked for
MAX_GRID = 63  # the encoder's bit-set searches shift a row of g cells within 64-bit words
# The most weights a policy network may have (80 MB of float32; the default has about 60 thousand): a checkpoint that
# names more is damaged or crafted, and is refused before anything is built.
MAX_PARAMETERS = 20_000_000
# The search overrules the policy's move only when another is better by more than this (in reward units: apples,
# deaths, discounted). Measured on the v3 imitation policy, 100 games, K 5, H 20: the policy alone 83.0; search
# without a margin 81.8; margin 0.5, 88.8; margin 1 with the trap check, 91.3. With the proof rollouts (encoder v6,
# K 3, H 40, discount 0.98, 16 games): margin 0, 11.37 moves an apple; margin 0.5, 10.14, every board filled both
# ways, where the policy alone filled 14 at 10.49 (docs/experiments.md).
DEFAULT_MARGIN = 0.5
# Each rollout move's reward counts this much less than the move before's: an apple sooner is worth more, which is
# what ranks the proven moves by speed (without it, H moves hold the same count of apples either way).
DEFAULT_DISCOUNT = 0.98
# The rollout policy plays greedily: measured stronger than sampling (docs/experiments.md).
DEFAULT_TEMPERATURE = 0.0
# A rollout alive at the horizon whose head is walled off from its own body counts as dead.
DEFAULT_TRAP_CHECK = True
MAX_DETOURS = 4096  # the most detour rollouts per move any flag accepts
# The largest search any flag, the growth rule or a saved run state may ask for: K rollouts per candidate move, of H
# moves each (the driver's --mc-k and --mc-h, evaluate.py's, and what the growth rule may reach).
MAX_K = 10_000
MAX_H = 100_000
# The most games any count of games may ask for (self-play, hard positions, evaluations, demonstrations): below the
# 131,072 games each seed stream holds (seeds.py), so no two streams meet.
MAX_GAMES = 100_000
# Rollouts per candidate move of the detour search. Measured with models/snake10.pt, K 5, H 20, on 60 games: none, 70
# percent of boards filled; 32, 78; 64, 85; 128, 83 (docs/experiments.md).
DEFAULT_DETOURS = 64
# Rates a phase's expected duration is computed from before the run has measured its own (narrate.Narrator.rates).
# Conservative constants measured on our 2-core machine, about half of what it does alone, so an expectation errs
# long: the search does moves x K x H at 243 to 684 thousand a second in self-play (runs/seed0 to seed2), and about
# 400 thousand to a million before the losses (K 5, H 100, rollouts ending sooner); greedy evaluation plays 100 to 150
# thousand moves a second.
# With the proof facts at every root (encoder v6 and its memory), self-play's search did about 18,700 a second (the
# default run of 8 December 2026: 32 games, about 31 thousand moves at K 3 and H 40 in 3 minutes 19 seconds), where
# 150 thousand (the figure before the proofs) said "about 30 seconds" for it.
SEARCH_WORK_PER_S = 12_000  # search decisions x K x H per second
HARD_WORK_PER_S = 300_000  # positions searched before a loss x K x H per second, the greedy games included
GREEDY_MOVES_PER_S = 50_000  # moves a second of greedy games played in lockstep


@dataclass(frozen=True)
class RewardPreset:
    """Reward for each event of a move; the default is the seed's +1 apple, -1 death, 0 otherwise."""

    apple: float = 1.0
    death: float = -1.0
    step: float = 0.0
    win: float = 0.0


REWARD_PRESETS: dict[str, RewardPreset] = {
    "default": RewardPreset(),
    "hungry": RewardPreset(step=-0.01),  # a small cost per move discourages circling
    "win-bonus": RewardPreset(win=10.0),  # a full board is worth ten apples more
}
