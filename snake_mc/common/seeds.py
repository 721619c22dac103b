"""Where every seeded game comes from: the named streams and the fixed sets, laid out so that none can meet another.

A game is played from one integer seed (rules.seed_keys hashes it), and every batch of games plays seeds
`first + i` for i from 0. Comparisons rely on that: a fast evaluation plays the first games of the full one, and two
policies play the same games. So a stream gives a first game; the games after it are the stream's own.

The layout, by construction (issue 26: the old sums let self-play reach the decision games from --seed 125,016 and the
report games from 630,131). A game seed below 2**63 is read as three bit fields:

    seed = block * 2**48 + run_seed * 2**17 + i        block < 2**15,  run_seed < 2**31,  i < 2**17

so seed -> (block, run_seed, i) is one-to-one. Each stream of a run owns one block per iteration (`block_of`):
block 0 is never a run's; 1 the scripted demonstrations; 2 the decisions (every evaluation and video of the run);
3 + 2n the self-play games of iteration n; 4 + 2n the hard-position games of iteration n. Two different (stream,
iteration, run seed) triples therefore differ in block or run_seed, and their games are disjoint as long as each plays
fewer than 2**17 = 131,072 games: config.py caps every count of games at 100,000 (--mc-episodes, --hard-games,
--eval-episodes, --imitation-demos; --video-episodes at 1,000) and --seed at 2**31 - 1; an iteration past
MAX_ITERATION (16,381) has no blocks left and is refused rather than wrapped. The fixed sets lie in block 0, which no run reaches:
tuning (experiments choose settings on games 20,000 to 29,999) and reports (5,000,000,000 onward, the figures
quoted in the README and models/snake10.json); evaluate.py plays the report set unless told otherwise. Every earlier
version's games lay in block 0 too (below 2**48 for any seed and fewer than 200 million iterations), so a new run
meets none of an old run's games either.
"""

from __future__ import annotations

from enum import IntEnum

GAME_BITS = 17  # games from one first game: 131,072, above the config's 100,000 cap on every count of games
SEED_BITS = 31  # the run's --seed: 0 to 2**31 - 1, the config's range
BLOCK_BITS = 15  # blocks below 2**15, so every game seed stays below 2**63 (int64, and `% 2**63` keys it unchanged)
GAMES_PER_STREAM = 1 << GAME_BITS
BLOCK = 1 << (GAME_BITS + SEED_BITS)  # game seeds per block: 2**48
MAX_RUN_SEED = (1 << SEED_BITS) - 1
# The last iteration with its own self-play and hard-position blocks: 4 + 2n < 2**15.
MAX_ITERATION = ((1 << BLOCK_BITS) - 1 - 4) // 2

TUNING = range(20_000, 30_000)  # experiments' tuning set (scripts/, bench/, docs/experiments.md)
REPORT_SEED = 5_000_000_000  # the report set's first game: evaluate.py's default, models/snake10.json's games
REPORTS = range(REPORT_SEED, BLOCK)  # the rest of block 0 from there: far more games than any report plays


class Stream(IntEnum):
    """A run's named streams of games, each in blocks of its own (the module's docstring gives the layout)."""

    DEMONSTRATIONS = 1  # the scripted player's games, recorded once on a fresh folder
    DECISIONS = 2  # every evaluation of the run (fast, full, bootstrap) and the videos: the same games each iteration
    SELF_PLAY = 3  # one block per iteration
    HARD_POSITIONS = 4  # one block per iteration


PER_ITERATION = (Stream.SELF_PLAY, Stream.HARD_POSITIONS)


def block_of(stream: Stream, iteration: int = 0) -> int:
    """The block a stream plays in: one-to-one in (stream, iteration), never 0, always below 2**15."""
    stream = Stream(stream)
    if stream not in PER_ITERATION:
        return int(stream)
    if not 0 <= iteration <= MAX_ITERATION:
        raise ValueError(f"Iteration {iteration:,} is past the last one with games of its own ({MAX_ITERATION:,}).")
    return int(stream) + 2 * iteration


def first_game(stream: Stream, run_seed: int, iteration: int = 0) -> int:
    """The seed of a stream's first game for this run seed (and iteration, for the streams that have one); its games
    are that seed plus 0 to 131,071, which no other stream, run seed, iteration or fixed set plays."""
    if not 0 <= run_seed <= MAX_RUN_SEED:
        raise ValueError(f"A run's seed is 0 to {MAX_RUN_SEED:,}, not {run_seed:,}.")
    return block_of(stream, iteration) * BLOCK + run_seed * GAMES_PER_STREAM


def games(stream: Stream, run_seed: int, iteration: int = 0, count: int = GAMES_PER_STREAM) -> range:
    """The game seeds of `count` games of a stream: the range disjointness is proven (and tested) on."""
    if not 0 <= count <= GAMES_PER_STREAM:
        raise ValueError(f"A stream plays at most {GAMES_PER_STREAM:,} games from one first game, not {count:,}.")
    first = first_game(stream, run_seed, iteration)
    return range(first, first + count)


def run_seed_of(first: int, stream: Stream = Stream.DECISIONS, iteration: int = 0) -> int | None:
    """The run seed whose `stream` starts at game `first` (a saved eval_seed, say); None when none does, as for the
    games an earlier version chose, so a listener hears --seed named only when it is what changed."""
    block, rest = divmod(first, BLOCK)
    seed, offset = divmod(rest, GAMES_PER_STREAM)
    return seed if block == block_of(stream, iteration) and not offset else None
