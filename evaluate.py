"""Evaluate a saved policy on seeded games and say how well it plays; the face of the evaluation's public API.

`evaluate_policy` lives in `snake_mc/search/evaluation.py` (so `from evaluate import evaluate_policy` keeps
working); this file is the command.

Usage: python evaluate.py CHECKPOINT --episodes 100 [--mc-k K --mc-h H] [--grid-size N] [--seed S] [--device D] [--json]
       [--off-path]
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys

import numpy as np

from snake_mc.common.cli import OneLineParser, run_guarded
from snake_mc.common.constants import DEFAULT_DETOURS, DEFAULT_MARGIN, MAX_DETOURS, MAX_GRID, MAX_H, MAX_K
from snake_mc.common.seeds import REPORT_SEED, TUNING
from snake_mc.search.evaluation import default_max_steps, evaluate_policy
from snake_mc.search.off_path import FORCED_MOVES, handover_points, off_path_evaluation, off_path_report
from snake_mc.speech.narrate import Narrator, count, format_seconds, per_second, plural

__all__ = ["default_max_steps", "evaluate_policy", "main", "moves_per_apple_interval", "off_path_evaluation",
           "off_path_report"]


# ----- command line --------------------------------------------------------------------------------------------
def _parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="evaluate.py", description="Evaluate a saved policy on seeded games and say how well it plays.")
    p.add_argument("checkpoint", help="the policy checkpoint (.pt) to evaluate")
    p.add_argument("--episodes", type=int, default=100, help="number of games; game i uses seed SEED + i")
    p.add_argument("--mc-k", type=int, default=0, help="Monte Carlo rollouts per action (0: plain greedy play)")
    p.add_argument("--mc-h", type=int, default=0, help="Monte Carlo rollout horizon in moves (needed with --mc-k)")
    p.add_argument("--mc-margin", type=float, default=None,
                   help=f"how much better (in apples) a move must be to overrule the policy's own (default: the search's, "
                        f"{DEFAULT_MARGIN:g})")
    p.add_argument("--no-trap-check", action="store_true",
                   help="do not count a rollout walled off from its own body at the horizon as dead")
    p.add_argument("--mc-detours", type=int, default=None,
                   help="sampled rollouts per move that hunt for a way to the food when the snake circles hungry "
                        f"(default: the search's, {DEFAULT_DETOURS}; 0 turns the hunt off)")
    p.add_argument("--no-endgame", action="store_true",
                   help="do not search every way to the food when few cells are left and the snake circles")
    p.add_argument("--no-tour", action="store_true",
                   help="search a snake in tour order too, instead of taking the tour's move (tour.py)")
    p.add_argument("--grid-size", type=int, default=None, help="board size; the checkpoint must match (default: its own)")
    p.add_argument("--seed", type=int, default=REPORT_SEED,
                   help=f"seed of the first game (default {REPORT_SEED:,}, the report set's first game, which no training "
                        f"run and no experiment plays; experiments tune on {TUNING.start:,} to {TUNING.stop - 1:,})")
    p.add_argument("--device", default="auto", help="cpu, cuda, or auto")
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads (default 1: on a busy machine, threads that wait on each other run far slower)")
    p.add_argument("--search-threads", type=int, default=None,
                   help="threads the Monte Carlo search runs on, each with one torch thread (default: this machine's "
                        "cores); the games are the same for any number")
    p.add_argument("--off-path", action="store_true",
                   help="then play the same games off the policy's own path: its own greedy moves up to an early and a "
                        f"late hand-over, {FORCED_MOVES} random safe moves forced, then the policy alone to the end "
                        "(always the policy alone, even with --mc-k)")
    p.add_argument("--progress", default="auto", choices=("auto", "bar", "lines", "off"), help="progress reporting")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object of the figures on standard output; the sentences go to standard error")
    p.add_argument("--debug", action="store_true", help="show the full traceback of an unexpected error instead of one sentence")
    return p


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    return run_guarded("evaluate.py", lambda: _evaluate(parser, args), args.debug)


def spoken_percent(share: float) -> str:
    """A share as it is best heard: whole percent ('87 percent'), with one decimal only where rounding would say
    all or none of something that is not ('99.6 percent', '0.4 percent')."""
    value = 100 * float(share)
    if round(value) in (0, 100) and value not in (0.0, 100.0):
        return f"{value:.1f} percent"
    return f"{value:.0f} percent"


def _evaluate(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """The command itself: bad flags and checkpoints refused with exit status 2, then the games played and said."""
    options = _search_options(parser, args)
    narrator = Narrator(progress=args.progress, stream=sys.stderr if args.json else None)
    narrator.say(f"Loading the policy from {args.checkpoint}.")  # before torch, which takes seconds to load

    import torch

    from snake_mc.learn.network import CheckpointError, load_policy  # torch loads only once the flags are known to be good

    torch.set_num_threads(args.threads)
    if args.mc_k:
        from snake_mc.search.rollouts import usable_cores

        options["threads"] = args.search_threads or usable_cores()

    try:
        policy = load_policy(args.checkpoint, device=args.device, grid_size=args.grid_size)
    except (CheckpointError, ValueError) as exc:
        narrator.close()
        print(str(exc), file=sys.stderr)
        return 2
    result = _play(policy, args, options, narrator)
    _say_result(result, narrator)
    off_path = _off_path(policy, args, narrator) if args.off_path else None
    narrator.close()
    if args.json:
        figures = _figures(result, args)
        if off_path is not None:
            figures["off_path"] = {name: _plain_figures(part) for name, part in off_path.items()}
        print(json.dumps(figures), flush=True)
    return 0


MAX_EPISODES = 100_000  # as the driver's --eval-episodes: about 2.4 kB a game while they are played together
# The games are searched together, each with 3 candidate moves x K rollouts of about 3 kB each (10 by 10, measured):
# --episodes x --mc-k at most this asks for about 2.5 GB, and --mc-k 10,000 on the default 100 games would ask for 8.
MAX_SEARCHED_AT_ONCE = 300_000


def _check_sizes(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Every flag that sizes the work (games, rollouts, horizon, board, seeds) within its bound, as the driver's are,
    so a typing slip is one sentence rather than gigabytes of memory or an overflow deep in the games."""
    for flag, value, low, high in (("--episodes", args.episodes, 1, MAX_EPISODES), ("--mc-k", args.mc_k, 0, MAX_K),
                                   ("--mc-h", args.mc_h, 0, MAX_H)):
        if not low <= value <= high:
            parser.error(f"the {flag} flag must be from {low} to {high:,}, not {value:,}")
    if args.episodes * args.mc_k > MAX_SEARCHED_AT_ONCE:
        parser.error(f"the --mc-k flag with --episodes asks for {3 * args.episodes * args.mc_k:,} rollouts at once (the "
                     f"games are searched together), more than the {3 * MAX_SEARCHED_AT_ONCE:,} that about 2.5 GB of "
                     "memory holds, so play fewer games or fewer rollouts")
    if args.grid_size is not None and not 4 <= args.grid_size <= MAX_GRID:
        parser.error(f"the --grid-size flag must be from 4 to {MAX_GRID}, not {args.grid_size}")
    high = 2**63 - args.episodes  # game i plays seed SEED + i, and a game's seed is below 2**63
    if not 0 <= args.seed <= high:
        parser.error(f"the --seed flag must be from 0 to {high:,}, so that the seeds of all {args.episodes:,} games "
                     f"stay below 2 to the power 63, not {args.seed:,}")


def _search_options(parser: argparse.ArgumentParser, args: argparse.Namespace) -> dict:
    """The flags checked (a bad one ends the command with one sentence, exit 2) and the search's options they set."""
    _check_sizes(parser, args)
    if args.mc_k > 0 and args.mc_h == 0:
        parser.error("the --mc-k flag needs --mc-h as well, the rollout horizon in moves")
    if args.mc_h > 0 and args.mc_k == 0:
        parser.error("the --mc-h flag needs --mc-k as well, the number of rollouts per action")
    for flag, value in (("--threads", args.threads), ("--search-threads", args.search_threads)):
        if value is not None and not 1 <= value <= 1024:
            parser.error(f"the {flag} flag must be from 1 to 1024, not {value}")
    if not re.fullmatch(r"auto|cpu|cuda(:\d+)?", args.device):
        parser.error(f"the --device flag must be auto, cpu, cuda or cuda:N, not {args.device!r}")
    if args.mc_margin is not None and not args.mc_margin >= 0:
        parser.error(f"the --mc-margin flag must be 0 or more, not {args.mc_margin}")
    options = {} if args.mc_margin is None else {"margin": args.mc_margin}
    if args.no_trap_check:
        options["trap_check"] = False
    if args.mc_detours is not None:
        if not 0 <= args.mc_detours <= MAX_DETOURS:
            parser.error(f"the --mc-detours flag must be from 0 to {MAX_DETOURS}, not {args.mc_detours}")
        options["detour_rollouts"] = args.mc_detours
    if args.no_endgame:
        options["endgame"] = False
    if args.no_tour:
        options["tour"] = False
    return options


def _play(policy, args: argparse.Namespace, options: dict, narrator: Narrator) -> dict:
    """The games, announced first (how many, which seeds, how the moves are chosen)."""
    grid = policy.grid_size
    how = "greedy moves"
    if args.mc_k:
        from snake_mc.search.rollouts import threads_phrase

        how = (f"Monte Carlo search, {plural(args.mc_k, 'rollout')} of {plural(args.mc_h, 'move')} per action, "
               f"on {threads_phrase(options['threads'])}")  # fmt: skip
    last = args.seed + args.episodes - 1
    narrator.say(
        f"Evaluating {args.checkpoint} on {args.episodes} games of a {grid} by {grid} board, "
        f"seeds {args.seed} to {last}, with {how}."
    )
    return evaluate_policy(
        policy, args.episodes, grid, args.seed, mc_k=args.mc_k, mc_h=args.mc_h, mc_options=options, narrator=narrator
    )


def _say_result(result: dict, narrator: Narrator) -> None:
    """The figures in sentences: time and speed, scores, length, boards filled with their interval, moves per apple."""
    moves = int(result["lengths"].sum())
    speed = moves / max(result["seconds"], 1e-9)
    narrator.say(f"The evaluation took {format_seconds(result['seconds'])}, {per_second(speed, 'move')}.")
    narrator.say(
        f"Mean score {result['mean_score']:.1f}, standard deviation {result['std_score']:.1f}, best {result['max_score']}."
    )
    narrator.say(f"Mean episode length {count(round(result['mean_length']), 'move')}.")
    low, high = result["win_rate_interval"]
    narrator.say(f"The board was filled in {spoken_percent(result['win_rate'])} of games; the 95 percent interval "
                 f"runs from {spoken_percent(low)[:-8]} to {spoken_percent(high)}.")
    _say_moves_per_apple(result, narrator)


def moves_per_apple_interval(lengths: np.ndarray | list[int], scores: np.ndarray | list[int],
                             z: float = 1.96) -> tuple[float, float]:
    """The 95 percent interval of moves per apple (all moves over all apples, the figure said), so two players' speeds
    can be told apart from noise; nan with fewer than two games or no apple.

    A normal interval for a ratio of means (the delta method over games): the figure is sum(moves) / sum(apples), and
    its standard error comes from each game's residual moves - figure * apples. Per-game ratios would weigh a game
    of 3 apples like one of 97 and have no value for a game without apples; a bootstrap would cost thousands of
    passes over up to a million games for the same answer."""
    moves, apples = np.asarray(lengths, dtype=float), np.asarray(scores, dtype=float)
    n = len(moves)
    if n < 2 or apples.sum() <= 0:
        return math.nan, math.nan
    ratio = float(moves.sum() / apples.sum())
    residual = moves - ratio * apples
    se = math.sqrt(float((residual**2).sum()) / (n - 1) / n) / float(apples.mean())
    return max(1.0, ratio - z * se), ratio + z * se  # an apple takes at least one move


def _spoken_moves(per_apple: float) -> str:
    """Moves per apple as heard: a decimal only below ten moves."""
    return f"{per_apple:.1f}" if per_apple < 9.95 else f"{per_apple:,.0f}"


def _spoken_range(low: float, high: float) -> tuple[str, str]:
    """An interval's ends as heard ('14 to 16', '8.3 to 12'), with up to two decimals where fewer would say the same
    number twice ('14.7 to 14.9')."""
    said = (_spoken_moves(low), _spoken_moves(high))
    for digits in (1, 2):
        if said[0] != said[1]:
            break
        said = (f"{low:,.{digits}f}", f"{high:,.{digits}f}")
    return said


def _say_moves_per_apple(result: dict, narrator: Narrator) -> None:
    """Moves per apple with its 95 percent interval (moves_per_apple_interval), or why there is none."""
    if math.isnan(result["moves_per_apple"]):
        narrator.say("No apple was eaten, so there is no moves-per-apple figure.")
        return
    said = f"On average an apple took {_spoken_moves(result['moves_per_apple'])} moves"
    low, high = moves_per_apple_interval(result["lengths"], result["scores"])
    if math.isnan(low):
        narrator.say(f"{said}.")
    else:
        low_said, high_said = _spoken_range(low, high)
        narrator.say(f"{said}; the 95 percent interval runs from {low_said} to {high_said}.")


def _off_path(policy, args: argparse.Namespace, narrator: Narrator) -> dict[str, dict]:
    """The same games off the policy's own path, early and late (search/off_path.py), each said once played."""
    grid = policy.grid_size
    parts = {}
    for name, moves in handover_points(grid).items():
        parts[name] = off_path_evaluation(policy, args.episodes, grid, args.seed, moves, narrator=narrator, label=name)
        _say_off_path(name, parts[name], narrator)
    return parts


def _say_off_path(name: str, part: dict, narrator: Narrator) -> None:
    """One hand-over point in sentences: how many games were still running, boards filled, score, moves per apple."""
    lead, forced = f"Off the policy's path, {name}", part["forced_moves"]
    own = plural(part["handover_moves"], "own move")
    if part["alive"] == 0:
        narrator.say(f"{lead}: no game was still running after {own}, so there is nothing to measure.")
        return
    narrator.say(f"{lead}: {part['alive']:,} of {part['num_episodes']:,} games were still running after {own}; "
                 f"then {plural(forced, 'random safe move')} {'was' if forced == 1 else 'were'} forced.")
    if part["trapped"]:
        narrator.say(f"In {plural(part['trapped'], 'game')} no safe move was left to force, so the snake died.")
    low, high = part["win_rate_interval"]
    narrator.say(f"From there the policy alone filled the board in {spoken_percent(part['win_rate'])} of them; the 95 "
                 f"percent interval runs from {spoken_percent(low)[:-8]} to {spoken_percent(high)}.")
    if math.isnan(part["moves_per_apple"]):
        narrator.say(f"Mean score {part['mean_score']:.1f}; no apple was eaten after the hand-over.")
    else:
        narrator.say(f"Mean score {part['mean_score']:.1f}; after the hand-over an apple took "
                     f"{_spoken_moves(part['moves_per_apple'])} moves on average.")


def _plain_figures(part: dict) -> dict:
    """An off-path result for JSON: floats rounded, nan as null, the interval as a list."""
    def plain(value):
        if isinstance(value, float):
            return None if math.isnan(value) else round(value, 4)
        return [plain(v) for v in value] if isinstance(value, tuple | list) else value

    return {key: plain(value) for key, value in part.items()}


def _figures(result: dict, args: argparse.Namespace) -> dict:
    """The --json object: the figures, rounded, with what was played."""
    figures = {key: result[key] for key in ("mean_score", "std_score", "win_rate", "mean_length", "moves_per_apple")}
    figures = {k: (None if math.isnan(v) else round(float(v), 4)) for k, v in figures.items()}
    low, high = moves_per_apple_interval(result["lengths"], result["scores"])
    figures.update(moves_per_apple_interval=None if math.isnan(low) else [round(low, 4), round(high, 4)])
    figures.update(win_rate_interval=[round(x, 4) for x in result["win_rate_interval"]],
                   max_score=int(result["max_score"]), episodes=int(result["num_episodes"]), seed=int(args.seed),
                   mc_k=int(args.mc_k), mc_h=int(args.mc_h), checkpoint=str(args.checkpoint))
    return figures


if __name__ == "__main__":
    sys.exit(main())
