"""Demonstrations: a person playing by ear in the terminal, the scripted player's command line, and the human baseline.

    python play.py                      record a person (turn based: the snake moves one cell per key press)
    python play.py --realtime --tick 0.4
    python play.py --scripted 200       record 200 games of the scripted player (labelled scripted, never human)

Both write `data/human_demos.npz` in the one dataset format of datasets.py and never overwrite it silently
(`--append` or `--overwrite`). The scripted player itself lives in scripted.py, the baseline a demonstration file sets
in baseline.py.
"""

from __future__ import annotations

import argparse
import os
import select
import sys
import time
from pathlib import Path

import numpy as np

from snake_mc.common.cli import OneLineParser, run_guarded
from snake_mc.common.constants import MAX_GAMES, MAX_GRID
from snake_mc.common.seeds import GAMES_PER_STREAM, MAX_RUN_SEED, Stream, first_game
from snake_mc.game.datasets import DatasetError, concat_datasets, empty_dataset, load_dataset, save_dataset
from snake_mc.game.rules import DC, DR, SnakeBatch
from snake_mc.game.scripted import record_scripted
from snake_mc.speech.narrate import Narrator, format_seconds, given_or_console, plural

DEFAULT_OUT = "data/human_demos.npz"


# ----- describing a position for a listener ----------------------------------------------------------------------


def _cell_word(batch: SnakeBatch, r: int, c: int) -> str:
    g = batch.grid_size
    if not (0 <= r < g and 0 <= c < g):
        return "wall"
    if int(batch.food[0]) == r * g + c:
        return "food"
    ttl = int(batch.ttl()[0, r * g + c])
    return "tail" if ttl == 1 else "body" if ttl > 1 else "free"


HEADINGS = ("north", "east", "south", "west")  # direction 0 up, 1 right, 2 down, 3 left: what the arrow keys mean


def describe(batch: SnakeBatch) -> str:
    """One sentence for game 0: score, the compass heading (so the arrow keys can be used by ear), what is ahead,
    left and right, and where the food is, facing the way it moves."""
    g, d = batch.grid_size, int(batch.direction[0])
    hr, hc = int(batch.head_r[0]), int(batch.head_c[0])
    words = {}
    for name, turn in (("ahead", 0), ("left", 3), ("right", 1)):
        nd = (d + turn) & 3
        words[name] = _cell_word(batch, hr + int(DR[nd]), hc + int(DC[nd]))
    if words["ahead"] == "free":
        ttl, k = batch.ttl()[0], 0
        while True:  # count the cells the snake can move straight into, a body cell counting once the tail has left
            r, c = hr + int(DR[d]) * (k + 1), hc + int(DC[d]) * (k + 1)
            if not (0 <= r < g and 0 <= c < g) or ttl[r * g + c] > k + 1:
                break
            k += 1
        words["ahead"] = f"{k} free"
    sentence = (f"Score {int(batch.score[0])}, heading {HEADINGS[d]}, ahead {words['ahead']}, left {words['left']}, "
                f"right {words['right']}")
    food = int(batch.food[0])
    if food < 0:
        return sentence + "."
    dr, dc = food // g - hr, food % g - hc
    ahead = dr * int(DR[d]) + dc * int(DC[d])
    right = dr * int(DR[(d + 1) & 3]) + dc * int(DC[(d + 1) & 3])
    parts = [f"{abs(ahead)} {'ahead' if ahead > 0 else 'behind'}"] if ahead else []
    parts += [f"{abs(right)} to the {'right' if right > 0 else 'left'}"] if right else []
    return f"{sentence}, food {' and '.join(parts)}."


# ----- reading keys ----------------------------------------------------------------------------------------------

_ARROWS = {"A": "arrow-up", "B": "arrow-down", "C": "arrow-right", "D": "arrow-left"}
_WORDS = {"left": "l", "straight": "s", "right": "r", "quit": "q", "help": "h", "": "s", " ": "s", "\n": "s", "\r": "s"}
EOF = "eof"


class _KeyReader:
    """Single keys from a terminal in cbreak mode (restored on exit), or whole lines when stdin is a pipe.

    Both read the file descriptor directly, so select() never misses input already sitting in Python's buffer."""

    def __init__(self, stream=None) -> None:  # noqa: ANN001 - any file with fileno()
        self.fd = (stream or sys.stdin).fileno()
        self.tty = os.isatty(self.fd)
        self.saved = None
        self.pending = b""

    def __enter__(self) -> _KeyReader:
        if self.tty:
            import termios
            import tty

            self.saved = termios.tcgetattr(self.fd)
            tty.setcbreak(self.fd)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.saved is not None:
            import termios

            termios.tcsetattr(self.fd, termios.TCSADRAIN, self.saved)

    def _ready(self, timeout: float | None) -> bool:
        return b"\n" in self.pending or bool(select.select([self.fd], [], [], timeout)[0])

    def read(self, timeout: float | None = None) -> str | None:
        """A key name ('arrow-up', 'l', 's', ...), EOF at end of input, or None when `timeout` seconds pass."""
        if timeout is not None and not self._ready(max(timeout, 0.0)):
            return None
        if not self.tty:
            while b"\n" not in self.pending:
                chunk = os.read(self.fd, 4096)
                if not chunk:
                    if not self.pending:
                        return EOF
                    self.pending += b"\n"  # a last line without a newline still counts
                self.pending += chunk
            line, self.pending = self.pending.split(b"\n", 1)
            word = line.decode("utf-8", "replace").strip().lower()
            return _WORDS.get(word, word)
        ch = os.read(self.fd, 1).decode("utf-8", "replace")
        if ch in ("", "\x04"):
            return EOF
        if ch == "\x1b":  # arrow keys arrive as ESC [ A (or ESC O A)
            seq = ""
            while len(seq) < 2 and self._ready(0.05):
                seq += os.read(self.fd, 1).decode("utf-8", "replace")
            return _ARROWS.get(seq[-1:], "escape") if len(seq) == 2 else "escape"
        return _WORDS.get(ch, ch.lower())


def _command(key: str, direction: int, wasd: bool) -> tuple[str, int]:
    """('move', relative action), ('reverse', 0), ('quit', 0), ('help', 0) or ('unknown', 0) for a key."""
    absolute = {"arrow-up": 0, "arrow-right": 1, "arrow-down": 2, "arrow-left": 3, "w": 0, "d": 1, "a": 3}
    absolute |= {"s": 2} if wasd else {}
    if key in absolute:
        turn = (absolute[key] - direction) & 3  # 0 same way, 1 clockwise, 3 anticlockwise, 2 reverse
        if turn == 2:
            return "reverse", 0
        return "move", {0: 1, 1: 2, 3: 0}[turn]
    if key in ("l", "s", "r"):
        return "move", "lsr".index(key)
    if key in ("q", EOF):
        return "quit", 0
    if key in ("h", "?"):
        return "help", 0
    return "unknown", 0


def help_sentence(wasd: bool) -> str:
    letters = "w, a, s and d" if wasd else "w, a and d"
    straight = "space or enter" if wasd else "s, space or enter"
    return (
        f"Keys: arrow keys or {letters} steer by compass direction, l turns left, r turns right, {straight} go straight, "
        "h repeats this help, and q saves and quits; moving into your tail is safe because it moves away."
    )


# ----- recording a person ----------------------------------------------------------------------------------------


def record_person(
    grid_size: int = 10,
    seed: int = 0,
    reader: _KeyReader | None = None,
    narrator: Narrator | None = None,
    realtime: bool = False,
    tick: float = 0.5,
    wasd: bool = False,
    starve_steps: int | None = None,
) -> dict[str, np.ndarray]:
    """Play games until q (or end of input); game i uses seed `seed + i`. An unfinished game keeps its score so far.

    In real time the snake moves every `tick` seconds: the last key pressed during a tick decides that move, and with
    no key it goes straight (so a compass key keeps its heading)."""
    if reader is None:
        with _KeyReader() as own:
            return record_person(grid_size, seed, own, narrator, realtime, tick, wasd, starve_steps)
    narrator = given_or_console(narrator)
    batch = SnakeBatch(1, grid_size, seeds=[seed], starve_steps=starve_steps)
    states: list[dict[str, np.ndarray]] = []
    actions: list[int] = []
    episodes: list[int] = []
    scores: list[int] = []
    game = 0
    moves_this_game = 0
    mode = f"real time, one move every {tick:g} seconds" if realtime else "turn based: the snake moves one cell per key press"
    narrator.say(f"Recording a person on a {batch.grid_size} by {batch.grid_size} board, {mode}.")
    narrator.say(help_sentence(wasd))
    narrator.say(f"Game 1 starts. {describe(batch)}")
    while True:
        action = _next_action(reader, batch, narrator, realtime, tick, wasd)
        if action is None:  # quit
            break
        nd = (int(batch.direction[0]) + action + 3) & 3
        target = _cell_word(batch, int(batch.head_r[0]) + int(DR[nd]), int(batch.head_c[0]) + int(DC[nd]))
        states.append(batch.export_states())
        actions.append(action)
        episodes.append(game)
        moves_this_game += 1
        _, terminated, truncated, ate = batch.step(np.array([action]))
        score = int(batch.score[0])
        if not (terminated[0] or truncated[0]):
            narrator.say(("You ate the food. " if ate[0] else "") + describe(batch))
            continue
        _say_game_over(batch, game, score, target, bool(terminated[0]), narrator)
        scores.append(score)
        game += 1
        moves_this_game = 0
        batch.reset_games(np.array([0]), np.array([seed + game]))
        narrator.say(f"Game {game + 1} starts. {describe(batch)}")
    if moves_this_game:
        scores.append(int(batch.score[0]))
        narrator.say(f"The unfinished game {game + 1} is kept with its score so far, {scores[-1]}.")
    return _as_dataset(batch.grid_size, states, actions, episodes, scores)


def _next_action(reader: _KeyReader, batch: SnakeBatch, narrator: Narrator, realtime: bool, tick: float,
                 wasd: bool) -> int | None:
    """The move the person chose (straight when a real-time tick passed without a key), or None to quit. Help, a
    turn back onto the body and an unknown key are answered, and the person asked again."""
    action = None
    deadline = time.monotonic() + tick
    while action is None or realtime:
        try:
            key = reader.read(deadline - time.monotonic() if realtime else None)
        except KeyboardInterrupt:
            narrator.say("Interrupted; saving what was recorded.")
            key = "q"
        if key is None:  # the tick ended
            break
        kind, value = _command(key, int(batch.direction[0]), wasd)
        if kind == "quit":
            return None
        if kind == "help":
            narrator.say(help_sentence(wasd))
        elif kind == "reverse":
            narrator.say(f"The snake cannot turn back on itself; it is heading {HEADINGS[int(batch.direction[0])]}. "
                         "Press another key.")
        elif kind == "unknown":
            narrator.say(f"The key {key} does nothing; press h for help.")
        else:
            action = value
    return 1 if action is None else action


def _say_game_over(batch: SnakeBatch, game: int, score: int, target: str, terminated: bool, narrator: Narrator) -> None:
    """How game `game` (counted from 0) ended: a filled board, a wall or the body, or starving."""
    if batch.won[0]:
        narrator.say(f"You filled the board and won game {game + 1} with a score of {score}.")
    elif terminated:
        narrator.say(f"Game {game + 1} over: you hit {'the wall' if target == 'wall' else 'your body'}, score {score}.")
    else:
        narrator.say(f"Game {game + 1} over: {batch.starve_steps} moves without food, score {score}.")


def _as_dataset(grid_size: int, states: list[dict[str, np.ndarray]], actions: list[int], episodes: list[int],
                scores: list[int]) -> dict[str, np.ndarray]:
    """The recorded moves as a demonstration dataset, labelled human."""
    data = empty_dataset(grid_size, "human")
    if actions:
        for key in states[0]:
            data[key] = np.concatenate([s[key] for s in states]).astype(data[key].dtype)
        data["actions"] = np.array(actions, dtype=np.int8)
        data["episode"] = np.array(episodes, dtype=np.int32)
        data["episode_scores"] = np.array(scores, dtype=np.int32)
    return data


# ----- command line ----------------------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="play.py", description="Record Snake demonstrations: a person playing by ear, or the scripted player.")
    p.add_argument("--scripted", type=int, metavar="N", help="record N games of the built-in scripted player instead of a person")
    p.add_argument("--grid-size", type=int, default=10, help="board size (default 10)")
    p.add_argument("--seed", type=int, default=0,
                   help="the run seed whose demonstration games are played: the same games iterative_train.py --seed "
                        "records on a fresh folder, game i the stream's game i (default 0)")
    p.add_argument("--out", default=DEFAULT_OUT, help=f"dataset file, relative to --workdir (default {DEFAULT_OUT})")
    p.add_argument("--workdir", default=".", help="folder that relative paths start from (default: here)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--append", action="store_true", help="add the new games to an existing file")
    mode.add_argument("--overwrite", action="store_true", help="replace an existing file")
    p.add_argument("--realtime", action="store_true", help="the snake moves every --tick seconds instead of once per key")
    p.add_argument("--tick", type=float, default=0.5, help="seconds per move in real time mode (default 0.5)")
    p.add_argument("--wasd", action="store_true", help="s means down (compass) instead of straight")
    p.add_argument("--debug", action="store_true", help="show the full traceback of an unexpected error instead of one sentence")
    return p


def _joined_source(parts: list[dict[str, np.ndarray]]) -> str:
    return "human" if all(str(p["source"]) == "human" for p in parts) else "scripted"


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    return run_guarded("play.py", lambda: _record(parser, args), args.debug)


def _check_flags(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """A bad flag ends the command in one sentence (exit status 2) before anything is read or written."""
    if args.grid_size < 4:
        parser.error(f"--grid-size {args.grid_size} is too small; use 4 or more.")
    if args.grid_size > MAX_GRID:
        parser.error(f"--grid-size {args.grid_size} is too large; use at most {MAX_GRID}.")
    if args.scripted is not None and not 1 <= args.scripted <= MAX_GAMES:
        parser.error(f"--scripted {args.scripted} must be from 1 to {MAX_GAMES:,} games.")
    if not 0 <= args.seed <= MAX_RUN_SEED:
        parser.error(f"--seed {args.seed} must be from 0 to {MAX_RUN_SEED:,}.")
    if args.tick <= 0:
        parser.error(f"--tick {args.tick} must be a positive number of seconds.")


def _record(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """The command itself: bad flags and files refused with exit status 2, then the games recorded and saved."""
    _check_flags(parser, args)
    narrator = Narrator()
    out = Path(args.workdir) / args.out
    existing = None
    if out.exists() and not (args.append or args.overwrite):
        narrator.say(f"{out} already exists; pass --append to add to it, --overwrite to replace it, or --out for another file.")
        return 2
    if out.exists() and args.append:
        try:
            existing = load_dataset(out)
        except DatasetError as exc:
            narrator.say(f"Cannot append: {exc} Pass --overwrite or choose another --out.")
            return 2
        if int(existing["grid_size"]) != args.grid_size:
            g = int(existing["grid_size"])
            narrator.say(f"{out} holds {g} by {g} games, not {args.grid_size} by {args.grid_size}; pass --grid-size {g}.")
            return 2
    recorded = len(existing["episode_scores"]) if existing is not None else 0  # appended games are new games
    if recorded + (args.scripted or 0) > GAMES_PER_STREAM:
        narrator.say(f"{out} already holds {recorded:,} games, and a stream has {GAMES_PER_STREAM:,}; record into "
                     "another --out, or with another --seed.")
        return 2
    seed = first_game(Stream.DEMONSTRATIONS, args.seed) + recorded
    if args.scripted is not None:
        narrator.say(f"Recording {plural(args.scripted, 'game')} of the scripted player for {out}.")
        start = time.perf_counter()
        try:
            data = record_scripted(args.scripted, args.grid_size, seed, narrator=narrator)
        except KeyboardInterrupt:
            narrator.say(f"Interrupted; nothing was written to {out}.")
            return 130
        scores = data["episode_scores"]
        narrator.say(
            f"Recorded {plural(len(scores), 'scripted game')}, not human ones, in {format_seconds(time.perf_counter() - start)}: "
            f"mean score {scores.mean():.1f}, {len(data['actions'])} moves."
        )
    else:
        with _KeyReader() as reader:
            data = record_person(args.grid_size, seed, reader, narrator, args.realtime, args.tick, args.wasd)
        if len(data["actions"]) == 0:
            narrator.say("Nothing was recorded, so no file was written.")
            return 0
    if existing is not None:
        parts = [existing, data]
        data = concat_datasets(parts, source=_joined_source(parts))
        kinds = sorted({str(p["source"]) for p in parts})
        if len(kinds) > 1:
            narrator.say(f"The file now mixes {' and '.join(kinds)} games, so it is labelled scripted, not human.")
    save_dataset(out, data)
    label = "scripted" if str(data["source"]) != "human" else "human"
    scores = data["episode_scores"]
    narrator.say(f"Saved {plural(len(scores), label + ' game')} with mean score {scores.mean():.1f} to {out}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
