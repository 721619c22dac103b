"""Narration for a listener: whole sentences to the console and to a log file, JSON events, timers, progress.

Users follow training through a screen reader, so every line is one plain sentence; there is no colour, emoji or
box drawing, and progress is a tqdm bar only on an interactive terminal (milestone sentences otherwise).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from snake_mc.common.constants import PROGRESS_MODES
from snake_mc.common.storage import open_own

# A phase expected to last longer than this says at its start how long it expects to take; a shorter one does not.
EXPECT_FROM_S = 20.0


def plural(count: int, word: str, words: str | None = None) -> str:
    """'1 rollout', '5 rollouts': a count with its noun agreeing, as it is read aloud."""
    return f"{count} {word if count == 1 else (words or word + 's')}"


def count(n: int, word: str, words: str | None = None) -> str:
    """A count as it is best heard: exact below ten thousand, then rounded ('about 338 thousand moves')."""
    n = int(n)
    noun = word if n == 1 else (words or word + "s")
    if abs(n) < 10_000:
        return f"{n:,} {noun}"
    if abs(n) < 1_000_000:
        return f"about {round(n / 1000):,} thousand {noun}"
    return f"about {n / 1_000_000:.1f} million {noun}"


def roughly(n: float, word: str, words: str | None = None) -> str:
    """An estimated count, always hedged: 'about 1,500 moves', 'about 338 thousand moves'."""
    said = count(int(round(n)), word, words)
    return said if said.startswith("about ") else f"about {said}"


def format_seconds(seconds: float) -> str:
    """Durations as a listener would say them: '0.4 seconds', '12 seconds', '3 minutes 5 seconds', '1 hour 2 minutes'."""
    seconds = max(0.0, float(seconds))
    if seconds < 10:
        return f"{seconds:.1f} seconds"
    if seconds < 60:
        return f"{seconds:.0f} seconds"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return plural(minutes, "minute") + (f" {plural(secs, 'second')}" if secs else "")
    hours, minutes = divmod(minutes, 60)
    return plural(hours, "hour") + (f" {plural(minutes, 'minute')}" if minutes else "")


def per_second(rate: float, word: str) -> str:
    """A speed as it is best heard, to two significant figures: 'about 1,200 moves a second'."""
    rate = max(0.0, float(rate))
    if rate >= 10:
        digits = len(str(int(rate))) - 2
        rate = round(rate, -digits)
    said = count(int(round(rate)), word) if rate >= 1 else f"{rate:.1g} {word}s"
    return f"{said if said.startswith('about ') else 'about ' + said} a second"


def _half_up(x: float) -> int:
    return int(x + 0.5)  # x is never negative here


def about(seconds: float) -> str:
    """A time left, rounded as a person would say it: 'about 40 seconds', 'about 3 minutes'. Halves round up, as a
    listener does (25 seconds is about 30, not Python's round-half-to-even 20)."""
    seconds = max(0.0, float(seconds))
    if seconds < 55:
        return f"about {max(10, _half_up(seconds / 10.0) * 10)} seconds"
    minutes = _half_up(seconds / 60.0)
    if minutes < 60:
        return f"about {plural(minutes, 'minute')}"
    hours, minutes = divmod(minutes, 60)
    return f"about {plural(hours, 'hour')}" + (f" {plural(minutes, 'minute')}" if minutes else "")


# A phase that runs on says how far it is at least this often: a listener is never left over 30 seconds in silence
# (a 30-second rhythm, measured, left 30.1-second gaps once a line's own time was counted).
PROGRESS_EVERY_S = 25.0


class Progress:
    """A tqdm bar when asked for; otherwise sentences: at each quarter and at least every `every_s` seconds, with
    the time left; nothing at all for a phase done within `after_s` seconds (a listener needs no news of it), and a
    quarter only when `gap_s` seconds have passed since the last sentence (one takes about 7 seconds to say).

    `expected_s`, the time the phase should take from the work known in advance, is said at the start (with `plan`,
    the work in words) when it exceeds `EXPECT_FROM_S`, and stands in for the time left until a quarter is done.
    With `per` above 1, `total` and `update` count small steps (batches) of which `per` make one unit said (an
    epoch), so the 30-second news comes even when one unit takes longer than that. `steady` work (each step costs
    about the same: batches, frames) says the time left from its own pace from the first sentence on."""

    def __init__(self, narrator: Narrator, total: int, description: str, unit: str, mode: str,
                 after_s: float = 5.0, every_s: float = PROGRESS_EVERY_S, expected_s: float | None = None, gap_s: float = 20.0,
                 plan: str | None = None, per: int = 1, steady: bool = False, plan_detail: bool = False) -> None:
        self.narrator, self.total, self.description, self.unit = narrator, max(int(total), 0), description, unit
        self.expected_s, self.per, self.steady = expected_s, max(int(per), 1), steady
        if expected_s is not None and self.total > 0:
            narrator.expect(plan or f"{description}: {self.total // self.per:,} {unit}", expected_s, detail=plan_detail)
        self.count = 0
        self.first: tuple[float, int] | None = None  # when the first update came, and the count then
        self.next_quarter = 1
        self.bar = None
        self.after_s, self.every_s, self.gap_s = float(after_s), float(every_s), float(gap_s)
        self.start = self.last_said = time.monotonic()
        if mode == "bar" and self.total > 0:
            from tqdm import tqdm

            self.bar = tqdm(total=self.total, desc=description, unit=unit, file=narrator.stream, ascii=True, leave=False)
        self.mode = mode

    def update(self, n: int = 1) -> None:
        self.count += n
        if self.bar is not None:
            self.bar.update(n)
            return
        if self.mode != "lines" or self.total <= 0 or self.count >= self.total:
            return
        now = time.monotonic()
        elapsed = now - self.start
        if self.first is None:
            self.first = (now, self.count)
        reached = min(4, self.count * 4 // self.total)  # quarters completed; only the highest new one is said
        new_quarter = reached >= self.next_quarter
        if new_quarter:
            self.next_quarter = reached + 1
        since = now - self.last_said
        # Quarters passed within `gap_s` of the last sentence are not said: a burst would outrun the listener.
        if elapsed < self.after_s or not ((new_quarter and since >= self.gap_s) or since >= self.every_s):
            return
        pct = int(100 * self.count / self.total)
        # Below a quarter the pace of games is mostly noise (the first to end are the early losses, the rest end in
        # a clump), so the expectation said at the start stands in for it while it lasts; steady work's pace is fair.
        left = elapsed * (self.total - self.count) / max(self.count, 1)
        since_first, done_since = now - self.first[0], self.count - self.first[1]
        if self.steady and done_since > 0:
            # The first step carries one-time costs (the compiler's first call, caches warming: one imitation batch
            # once took 30 seconds and made "72 hours left"), so steady work is paced from the steps after it.
            estimate = f", {about(since_first * (self.total - self.count) / done_since)} left"
        elif 4 * self.count >= self.total:
            estimate = f", {about(left)} left"
        elif self.expected_s is not None and elapsed < 0.75 * self.expected_s:
            # Past three quarters of the expectation with under a quarter done, the expectation was wrong: a
            # countdown to nothing would mislead, so nothing is said until the pace itself can be trusted.
            estimate = f", {about(self.expected_s - elapsed)} left"
        elif self.steady and self.count:
            estimate = f", {about(left)} left"  # only the first step's pace, but the expectation proved wrong
        else:
            estimate = ""
        done, total = self.count // self.per, self.total // self.per
        self.narrator.say(f"{self.description}: {pct} percent done, {done:,} of {total:,} {self.unit}{estimate}.")
        self.last_said = now

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Narrator:
    """Says sentences to the console and the log file, records events, times phases, makes progress reporters."""

    def __init__(
        self,
        log_path: str | os.PathLike | None = None,
        events_path: str | os.PathLike | None = None,
        progress: str = "auto",
        stream: TextIO | None = None,
        quiet: bool = False,
        progress_after_s: float = 5.0,
        progress_gap_s: float = 20.0,
        details: bool = True,
        brief: bool = False,
    ) -> None:
        if progress not in PROGRESS_MODES:
            raise ValueError(f"Progress mode {progress!r} is not one of {', '.join(PROGRESS_MODES)}.")
        self.stream = stream if stream is not None else sys.stdout
        self.quiet = quiet  # nothing at all on the console (tests, benchmarks)
        self.details = details  # whether detail sentences reach the console too (the log always has them)
        self.brief = brief  # --quiet: only essential sentences reach the console (the log still has every one)
        # Work done per second, by kind of work, measured earlier in this run: the next phase of a kind says how long
        # it expects to take from these rather than from a constant.
        self.rates: dict[str, float] = {}
        self.progress_after_s, self.progress_gap_s = float(progress_after_s), float(progress_gap_s)
        # Sentences on every terminal: a screen reader cannot follow a redrawn bar, so a bar only when asked for.
        self.progress_mode = "lines" if progress == "auto" else progress
        self.log = self._open(log_path)
        self.events = self._open(events_path)

    @staticmethod
    def _open(path: str | os.PathLike | None) -> TextIO | None:
        """A log file kept open to append to, from the start of a line (issue 26: a cut line swallowed an event)."""
        if path is None:
            return None
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        handle = open_own(path, "a+")  # kept open for the run; never through a symbolic link
        size = os.fstat(handle.fileno()).st_size
        if size and os.pread(handle.fileno(), 1, size - 1) != b"\n":  # a run that crashed mid-line: the cut line
            handle.write("\n")  # stays as it is, and this run's first line starts on a line of its own
        return handle

    def say(self, sentence: str, detail: bool = False, essential: bool = False) -> None:
        """One sentence to the console and, with a timestamp, to the log file. A `detail` (how long a step took, how
        many moves it saw) reaches the console only when details were asked for, so a listener hears the story
        at a pace they can follow; with `brief` (--quiet) only an `essential` sentence (an error, a decision, the
        result) does. The log file keeps every sentence."""
        if self.brief:
            shown = essential
        else:
            shown = essential or self.details or not detail
        if shown and not self.quiet:
            print(sentence, file=self.stream, flush=True)
        self._log(sentence)

    def _log(self, sentence: str) -> None:
        if self.log is not None:
            stamp = _dt.datetime.now().strftime("%Y-%m-%d %H:%M:%S")
            self.log.write(f"{stamp} {sentence}\n")

    def event(self, kind: str, **fields: object) -> None:
        """One JSON object per line in events.jsonl: the machine-readable twin of the narration."""
        if self.events is not None:
            record = {"time": _dt.datetime.now().isoformat(timespec="seconds"), "event": kind, **fields}
            self.events.write(json.dumps(record, default=_plain) + "\n")

    @contextlib.contextmanager
    def phase(self, name: str, announce: str | None = None, say_duration: bool = True) -> Iterator[dict]:
        """Announce a phase, time it, and say how long it took (unless the work inside already said so), both as
        details. The yielded dict collects fields for the event."""
        if announce:
            self.say(announce, detail=True)
        fields: dict = {}
        start = time.perf_counter()
        yield fields
        seconds = time.perf_counter() - start
        fields["seconds"] = round(seconds, 3)
        if say_duration:
            self.say(f"{name} took {format_seconds(seconds)}.", detail=True)
        self.event("phase", name=name, **fields)

    def measured(self, kind: str, work: float, seconds: float) -> None:
        """Remember how fast a kind of work went, so the next phase of that kind can say how long it expects. A
        phase under half a second is too short to time, and is ignored."""
        if seconds >= 0.5 and work > 0:
            self.rates[kind] = float(work) / float(seconds)

    def expected_seconds(self, kind: str, work: float, fallback_rate: float) -> float:
        """The time `work` should take at the rate measured earlier in this run, or at `fallback_rate` before any."""
        return float(work) / max(self.rates.get(kind, fallback_rate), 1e-9)

    def expect(self, plan: str, seconds: float | None, detail: bool = False) -> None:
        """Say at a phase's start how long it should take ("Training: 4 epochs over about 700 thousand samples,
        expected to take about 2 minutes."), when that is long enough for a listener to want to know; the log and
        the events get the expectation either way. A `detail` is the finer count of a phase whose whole was just
        expected aloud."""
        if seconds is None:
            return
        sentence = f"{plan}, expected to take {about(seconds)}."
        if seconds > EXPECT_FROM_S:
            self.say(sentence, detail=detail)
        else:
            self._log(sentence)
        self.event("expected", plan=plan, seconds=round(float(seconds), 1))

    def progress(self, total: int, description: str, unit: str = "items", expected_s: float | None = None,
                 plan: str | None = None, per: int = 1, steady: bool = False, plan_detail: bool = False) -> Progress:
        mode = "off" if self.quiet else ("lines" if self.brief and self.progress_mode == "bar" else self.progress_mode)
        return Progress(self, total, description, unit, mode, after_s=self.progress_after_s, expected_s=expected_s,
                        gap_s=self.progress_gap_s, plan=plan, per=per, steady=steady, plan_detail=plan_detail)

    def close(self) -> None:
        for handle in (self.log, self.events):
            if handle is not None:
                handle.close()
        self.log = self.events = None


def _plain(value: object) -> object:
    """JSON fallback for numpy scalars and arrays."""
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def given_or_console(narrator: Narrator | None) -> Narrator:
    """The narrator a caller passed, the one way narration reaches library code; a caller that passed none (a script,
    a test) gets a console-only narrator of its own. No narrator is process-wide: what a function says goes where its
    caller sent it, and nowhere else."""
    return narrator if narrator is not None else Narrator()
