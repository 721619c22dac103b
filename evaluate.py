"""Evaluate a policy: seeded, batched, greedy games; and a paired comparison of two policies on the same games.

Episode i of an evaluation always uses game seed ``seed + i``, so a fast evaluation of F episodes plays exactly the
first F games of a full one, and two policies evaluated with the same seed meet exactly the same food. All episodes
run as one `SnakeBatch` in lockstep; each move is one policy call on the games still running (finished games are
dropped from the batch, never fed to the network).

Usage: python evaluate.py CHECKPOINT --episodes 100 [--mc-k K --mc-h H] [--grid-size N] [--seed S] [--device D] [--json]
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import time

import numpy as np

from config import OneLineParser, run_guarded
from constants import GREEDY_MOVES_PER_S, MAX_DETOURS, SEARCH_WORK_PER_S
from env import SnakeBatch
from narrate import Narrator, count, format_seconds, per_second, plural, roughly


def default_max_steps(grid_size: int, starve_steps: int) -> int:
    """The hard step cap: a game can eat at most g*g - 3 apples and starves after `starve_steps` moves without one,
    so no real episode reaches g*g * starve_steps moves; the cap only guards against a rule change or a bug."""
    return int(grid_size) ** 2 * int(starve_steps)


def _check_counts(num_episodes: int, mc_k: int, mc_h: int, max_steps: int | None) -> None:
    if int(num_episodes) != num_episodes or num_episodes < 1:
        raise ValueError(f"The number of episodes must be a whole number of at least 1, not {num_episodes}.")
    if mc_k < 0 or mc_h < 0:
        raise ValueError(f"Monte Carlo K and H must be 0 or more, not K={mc_k} and H={mc_h}.")
    if (mc_k > 0) != (mc_h > 0):
        raise ValueError(
            f"Monte Carlo search needs both K and H above 0 (or both 0 for plain greedy play), not K={mc_k} and H={mc_h}."
        )
    if max_steps is not None and max_steps < 1:
        raise ValueError(f"max_steps must be at least 1, not {max_steps}.")


def evaluate_policy(
    policy,
    num_episodes: int,
    grid_size: int = 10,
    seed: int = 0,
    *,
    starve_steps: int | None = None,
    reward: str = "default",
    max_steps: int | None = None,
    mc_k: int = 0,
    mc_h: int = 0,
    mc_seed: int = 0,
    mc_options: dict | None = None,
    narrator: Narrator | None = None,
    expected_length: float | None = None,
) -> dict:
    """Play `num_episodes` games (episode i on seed `seed + i`) with greedy actions, or Monte Carlo search when
    `mc_k` and `mc_h` are both above 0, and summarise them.

    `policy` is anything with `act(batch, greedy=True) -> actions` (a `SnakePolicy`, or a scripted stub).
    An episode ends by death, a full board, starvation (`starve_steps`), or the hard cap `max_steps` (default
    `default_max_steps`). Its length is the number of moves played, the fatal move included.
    `mc_options` go to `monte_carlo_actions` (margin, trap_check, temperature, ...).
    `expected_length` (moves a game, when known; else grid_size**3, about a strong policy's game) sizes the duration
    said at the start when it is long, from the rates the narrator measured earlier in this run.
    Monte Carlo rollouts at move m draw on a seed made from (mc_seed, m) and on each game's own food stream, so the
    same call gives the same games and a fast evaluation's games are the full evaluation's first games.

    Returns mean_score, std_score (population standard deviation), max_score, mean_length, win_rate (fraction of
    boards filled), moves_per_apple (all moves over all apples; nan when none was eaten), scores and lengths (int
    arrays in episode order), seconds, num_episodes and seed.
    """
    _check_counts(num_episodes, mc_k, mc_h, max_steps)
    n = int(num_episodes)
    start = time.perf_counter()
    games = SnakeBatch(n, grid_size, seeds=int(seed) + np.arange(n), starve_steps=starve_steps, reward=reward)
    cap = int(max_steps) if max_steps is not None else default_max_steps(grid_size, games.starve_steps)
    search = None
    if mc_k > 0:
        from mc_search import monte_carlo_actions  # written alongside; imported only when search is asked for

        search = monte_carlo_actions
    scores = np.zeros(n, dtype=np.int64)
    lengths = np.zeros(n, dtype=np.int64)
    won = np.zeros(n, dtype=bool)
    ids = np.arange(n)  # episode index of each game still in `games`
    was_training = getattr(policy, "training", None)
    if was_training:
        policy.eval()
    progress = None
    if narrator is not None:
        moves = n * min(float(expected_length or grid_size**3), cap)
        if search is not None:
            expected = narrator.expected_seconds("search", moves * mc_k * mc_h, SEARCH_WORK_PER_S)
            plan = f"Evaluation with the search: {n} games, {roughly(moves, 'move')}"
        else:
            expected = narrator.expected_seconds("greedy moves", moves, GREEDY_MOVES_PER_S)
            plan = f"Evaluation: {n} games, {roughly(moves, 'move')}"
        progress = narrator.progress(n, "Evaluation", unit="episodes", expected_s=expected, plan=plan)
    try:
        for move in range(cap):
            if search is not None:
                step_seed = int(np.random.SeedSequence([int(mc_seed), move]).generate_state(1)[0])
                actions = search(games, policy, int(mc_k), int(mc_h), seed=step_seed, **(mc_options or {})).actions
            else:
                actions = policy.act(games, greedy=True)
            games.step(np.asarray(actions))
            over = games.done
            if move == cap - 1:
                over = np.ones_like(over)  # the cap: every game still running ends here
            if over.any():
                ended = ids[over]
                scores[ended] = games.score[over]
                won[ended] = games.won[over]
                lengths[ended] = move + 1  # all games move together, so every one ending now has played move + 1
                ids = ids[~over]
                games = games.take(np.flatnonzero(~over))
                if progress is not None:
                    progress.update(len(ended))
            elif progress is not None:
                progress.update(0)  # no game ended: news still every 30 seconds, however long the games last
            if len(ids) == 0:
                break
    finally:
        if progress is not None:
            progress.close()
        if was_training:
            policy.train()
    apples = int(scores.sum())
    seconds = time.perf_counter() - start
    if narrator is not None:
        if search is not None:
            narrator.measured("search", int(lengths.sum()) * mc_k * mc_h, seconds)
        else:
            narrator.measured("greedy moves", int(lengths.sum()), seconds)
    return {
        "mean_score": float(scores.mean()),
        "std_score": float(scores.std()),
        "max_score": int(scores.max()),
        "mean_length": float(lengths.mean()),
        "win_rate": float(won.mean()),
        "moves_per_apple": float(lengths.sum() / apples) if apples else float("nan"),
        "scores": scores,
        "lengths": lengths,
        "seconds": seconds,
        "num_episodes": n,
        "seed": int(seed),
    }


def _spoken(x: float) -> str:
    """A number as a listener wants it: one decimal, or two significant digits when it is small but not zero."""
    if x != 0 and abs(x) < 0.1:
        return f"{x:.2g}"
    return f"{x:.1f}"


def compare_policies(a, b, num_episodes: int, grid_size: int = 10, seed: int = 0, **kwargs) -> dict:
    """Evaluate `a` (the old policy) and `b` (the new one) on the same seeded games and compare them pair by pair.

    diff = mean(score_b - score_a), so a positive diff means the new policy is better; se is the standard error
    of the paired differences (sample standard deviation / sqrt(n); nan for a single game). wins, ties and losses
    count the games where b scored more than, the same as, or less than a. `kwargs` go to `evaluate_policy`.
    """
    eval_a = evaluate_policy(a, num_episodes, grid_size, seed, **kwargs)
    eval_b = evaluate_policy(b, num_episodes, grid_size, seed, **kwargs)
    d = (eval_b["scores"] - eval_a["scores"]).astype(np.float64)
    n = len(d)
    diff = float(d.mean())
    se = float(d.std(ddof=1) / math.sqrt(n)) if n > 1 else float("nan")
    if diff > 0:
        change = f"scores {_spoken(diff)} more"
    elif diff < 0:
        change = f"scores {_spoken(-diff)} less"
    else:
        change = "scores the same"
    games = "game" if n == 1 else f"{n} games"
    error = "no standard error from a single game" if math.isnan(se) else f"a standard error of {_spoken(se)}"
    wins, ties, losses = int((d > 0).sum()), int((d == 0).sum()), int((d < 0).sum())
    sentence = (
        f"The new policy {change} on average over the same {games}, with {error}; "
        f"it did better in {wins}, the same in {ties} and worse in {losses}."
    )
    return {
        "mean_a": eval_a["mean_score"],
        "mean_b": eval_b["mean_score"],
        "diff": diff,
        "se": se,
        "n": n,
        "wins": wins,
        "ties": ties,
        "losses": losses,
        "sentence": sentence,
        "eval_a": eval_a,
        "eval_b": eval_b,
    }


# ----- command line --------------------------------------------------------------------------------------------
def _parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="evaluate.py", description="Evaluate a saved policy on seeded games and say how well it plays.")
    p.add_argument("checkpoint", help="the policy checkpoint (.pt) to evaluate")
    p.add_argument("--episodes", type=int, default=100, help="number of games; game i uses seed SEED + i")
    p.add_argument("--mc-k", type=int, default=0, help="Monte Carlo rollouts per action (0: plain greedy play)")
    p.add_argument("--mc-h", type=int, default=0, help="Monte Carlo rollout horizon in moves (needed with --mc-k)")
    p.add_argument("--mc-margin", type=float, default=None,
                   help="how much better (in apples) a move must be to overrule the policy's own (default: the search's, 1)")
    p.add_argument("--no-trap-check", action="store_true",
                   help="do not count a rollout walled off from its own body at the horizon as dead")
    p.add_argument("--mc-detours", type=int, default=None,
                   help="sampled rollouts per move that hunt for a way to the food when the snake circles hungry "
                        "(default: the search's, 64; 0 turns the hunt off)")
    p.add_argument("--no-endgame", action="store_true",
                   help="do not search every way to the food when few cells are left and the snake circles")
    p.add_argument("--grid-size", type=int, default=None, help="board size; the checkpoint must match (default: its own)")
    p.add_argument("--seed", type=int, default=0, help="seed of the first game")
    p.add_argument("--device", default="auto", help="cpu, cuda, or auto")
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads (default 1: on a busy machine, threads that wait on each other run far slower)")
    p.add_argument("--search-threads", type=int, default=None,
                   help="threads the Monte Carlo search runs on, each with one torch thread (default: this machine's "
                        "cores); the games are the same for any number")
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
    if args.episodes < 1:
        parser.error(f"the --episodes flag must be at least 1, not {args.episodes}")
    for flag, value in (("--mc-k", args.mc_k), ("--mc-h", args.mc_h)):
        if value < 0:
            parser.error(f"the {flag} flag must be 0 or more, not {value}")
    if args.mc_k > 0 and args.mc_h == 0:
        parser.error("the --mc-k flag needs --mc-h as well, the rollout horizon in moves")
    if args.mc_h > 0 and args.mc_k == 0:
        parser.error("the --mc-h flag needs --mc-k as well, the number of rollouts per action")
    for flag, value in (("--threads", args.threads), ("--search-threads", args.search_threads)):
        if value is not None and not 1 <= value <= 1024:
            parser.error(f"the {flag} flag must be from 1 to 1024, not {value}")
    if args.episodes > 1_000_000:
        parser.error(f"the --episodes flag must be at most 1,000,000, not {args.episodes}")
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

    import torch

    from policy import CheckpointError, load_policy  # torch loads only once the flags are known to be good

    torch.set_num_threads(args.threads)
    if args.mc_k:
        from mc_search import threads_phrase, usable_cores

        options["threads"] = args.search_threads or usable_cores()

    try:
        policy = load_policy(args.checkpoint, device=args.device, grid_size=args.grid_size)
    except (CheckpointError, ValueError) as exc:
        print(str(exc), file=sys.stderr)
        return 2
    grid = policy.grid_size
    narrator = Narrator(progress=args.progress, stream=sys.stderr if args.json else None)
    how = "greedy moves"
    if args.mc_k:
        threads = options["threads"]
        how = (f"Monte Carlo search, {plural(args.mc_k, 'rollout')} of {plural(args.mc_h, 'move')} per action, "
               f"on {threads_phrase(threads)}")  # fmt: skip
    last = args.seed + args.episodes - 1
    narrator.say(
        f"Evaluating {args.checkpoint} on {args.episodes} games of a {grid} by {grid} board, "
        f"seeds {args.seed} to {last}, with {how}."
    )
    result = evaluate_policy(
        policy, args.episodes, grid, args.seed, mc_k=args.mc_k, mc_h=args.mc_h, mc_options=options, narrator=narrator
    )
    moves = int(result["lengths"].sum())
    speed = moves / max(result["seconds"], 1e-9)
    narrator.say(f"The evaluation took {format_seconds(result['seconds'])}, {per_second(speed, 'move')}.")
    narrator.say(
        f"Mean score {result['mean_score']:.1f}, standard deviation {result['std_score']:.1f}, best {result['max_score']}."
    )
    narrator.say(f"Mean episode length {count(round(result['mean_length']), 'move')}.")
    narrator.say(f"The board was filled in {spoken_percent(result['win_rate'])} of games.")
    if math.isnan(result["moves_per_apple"]):
        narrator.say("No apple was eaten, so there is no moves-per-apple figure.")
    else:
        per_apple = result["moves_per_apple"]  # a decimal only where it is heard: below ten moves
        narrator.say(f"On average an apple took {per_apple:.1f} moves." if per_apple < 9.95 else
                     f"On average an apple took {per_apple:,.0f} moves.")
    narrator.close()
    if args.json:
        figures = {key: result[key] for key in ("mean_score", "std_score", "win_rate", "mean_length", "moves_per_apple")}
        figures = {k: (None if math.isnan(v) else round(float(v), 4)) for k, v in figures.items()}
        figures.update(max_score=int(result["max_score"]), episodes=int(result["num_episodes"]), seed=int(args.seed),
                       mc_k=int(args.mc_k), mc_h=int(args.mc_h), checkpoint=str(args.checkpoint))
        print(json.dumps(figures), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
