"""For the ear: --quiet keeps only the essential sentences on the console, and a long phase says at its start how
long it expects to take, from the work known in advance and a rate measured earlier in the run."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

from snake_mc.game.scripted import record_scripted
from snake_mc.speech.narrate import EXPECT_FROM_S, Narrator, Progress


def listener(tmp_path: Path, **options: object) -> tuple[Narrator, io.StringIO]:
    stream = io.StringIO()
    return Narrator(log_path=tmp_path / "train.log", events_path=tmp_path / "events.jsonl", progress="lines",
                    stream=stream, **options), stream  # fmt: skip


def test_brief_keeps_only_essential_sentences_on_the_console_and_every_one_in_the_log(tmp_path: Path) -> None:
    say, stream = listener(tmp_path, brief=True)
    say.say("Iteration 1 of 2 begins.")
    say.say("Self-play took 20 seconds.", detail=True)
    say.say("In iteration 1 of 2, the new policy is kept.", essential=True)
    progress = Progress(say, 4, "Slow work", "items", say.progress_mode, after_s=0.0, gap_s=0.0)
    progress.update(2)
    say.close()
    assert stream.getvalue().splitlines() == ["In iteration 1 of 2, the new policy is kept."]
    log = (tmp_path / "train.log").read_text()
    for sentence in ("Iteration 1 of 2 begins.", "Self-play took 20 seconds.", "the new policy is kept",
                     "Slow work: 50 percent done"):
        assert sentence in log


def test_an_essential_sentence_is_said_in_every_mode_but_a_silenced_narrator(tmp_path: Path) -> None:
    for options, heard in (({}, True), ({"details": False}, True), ({"brief": True}, True), ({"quiet": True}, False)):
        say, stream = listener(tmp_path, **options)
        say.say("Training stopped: the disk is full.", essential=True)
        say.close()
        assert (stream.getvalue() == "Training stopped: the disk is full.\n") is heard, options


def test_a_long_phase_says_its_expected_duration_at_the_start_and_a_short_one_only_in_the_log(tmp_path: Path) -> None:
    say, stream = listener(tmp_path)
    say.expect("Training: 4 epochs over about 700 thousand samples", 130.0)
    say.expect("Evaluation: 200 games", EXPECT_FROM_S - 1)
    say.close()
    assert stream.getvalue().splitlines() == [
        "Training: 4 epochs over about 700 thousand samples, expected to take about 2 minutes."]
    log = (tmp_path / "train.log").read_text()
    assert "Evaluation: 200 games, expected to take about 20 seconds." in log
    assert (tmp_path / "events.jsonl").read_text().count('"event": "expected"') == 2


def test_progress_says_the_plan_at_its_start_and_the_expectation_stands_in_below_a_quarter(tmp_path: Path) -> None:
    say, stream = listener(tmp_path)
    progress = Progress(say, 100, "Slow work", "items", "lines", after_s=0.0, gap_s=0.0, expected_s=600.0,
                        plan="Slow work: 100 items")
    assert stream.getvalue() == "Slow work: 100 items, expected to take about 10 minutes.\n"
    progress.start -= 60  # as if a minute had passed since the start, and since the last sentence
    progress.last_said -= 60
    progress.update(15)  # the measured pace would say under 6 minutes more; the expectation, 9
    assert stream.getvalue().splitlines()[-1] == "Slow work: 15 percent done, 15 of 100 items, about 9 minutes left."
    say.close()


def test_an_expectation_that_proved_too_short_is_not_counted_down_to_nothing(tmp_path: Path) -> None:
    say, stream = listener(tmp_path)
    progress = Progress(say, 100, "Slow work", "items", "lines", after_s=0.0, gap_s=0.0, expected_s=60.0)
    progress.start -= 50  # 50 of the expected 60 seconds gone with little done: the expectation was wrong
    progress.last_said -= 50
    progress.update(2)
    assert stream.getvalue().splitlines()[-1] == "Slow work: 2 percent done, 2 of 100 items."
    say.close()


def test_an_expectation_uses_the_rate_measured_earlier_in_the_run_before_the_constant(tmp_path: Path) -> None:
    say, _ = listener(tmp_path)
    assert say.expected_seconds("training", 600_000, fallback_rate=60_000) == pytest.approx(10.0)
    say.measured("training", 100_000, 0.1)  # too short to time: ignored
    assert say.expected_seconds("training", 600_000, fallback_rate=60_000) == pytest.approx(10.0)
    say.measured("training", 100_000, 5.0)
    assert say.expected_seconds("training", 600_000, fallback_rate=60_000) == pytest.approx(30.0)
    say.close()


def test_training_says_its_epochs_samples_and_expected_duration_when_it_is_long(tmp_path: Path) -> None:
    from snake_mc.learn.learning import train_imitation

    demos = record_scripted(6, grid_size=6, seed=1, narrator=Narrator(quiet=True))
    say, stream = listener(tmp_path)
    say.rates["training"] = 10.0  # as if this run had measured a very slow machine: the expectation exceeds 20 s
    train_imitation(demos, epochs=2, batch_size=64, seed=0, device="cpu", model_config={"hidden": 8, "layers": 1},
                    narrator=say)
    said = [line for line in stream.getvalue().splitlines() if line.startswith("Imitation training: 2 epochs over ")]
    assert len(said) == 1 and " samples, expected to take about " in said[0], stream.getvalue()
    say.close()


def test_scripted_recording_expects_from_its_games_and_learns_its_rate(tmp_path: Path) -> None:
    say, stream = listener(tmp_path)
    say.rates["scripted moves"] = 1.0  # very slow: the expectation is long enough to be said
    data = record_scripted(3, grid_size=6, seed=2, narrator=say)
    assert stream.getvalue().splitlines()[0].startswith("Recording 3 scripted games, ")
    assert "expected to take" in stream.getvalue().splitlines()[0]
    assert len(np.unique(data["episode"])) == 3
    say.close()


def test_below_a_quarter_steady_work_says_the_time_left_from_its_own_pace(tmp_path: Path) -> None:
    say, stream = listener(tmp_path)
    progress = Progress(say, 100, "Slow work", "items", "lines", after_s=0.0, gap_s=0.0, expected_s=30.0, per=10, steady=True)
    progress.start -= 120  # two minutes in, far past the 30 seconds expected
    progress.last_said -= 120
    progress.update(10)  # one unit of ten done: the measured pace says 18 minutes more
    assert stream.getvalue().splitlines()[-1] == "Slow work: 10 percent done, 1 of 10 items, about 18 minutes left."
    say.close()


def test_steady_work_is_paced_from_the_steps_after_a_slow_first_one(tmp_path: Path) -> None:
    """The first batch of imitation training carries the compiler's one-time cost: it once took 30 seconds of a phase
    expected to take a minute, and the pace it set said 72 hours left. The pace counts from after the first step."""
    say, stream = listener(tmp_path)
    progress = Progress(say, 1000, "Training", "epochs", "lines", after_s=0.0, gap_s=0.0, expected_s=60.0, per=100,
                        steady=True)
    progress.start -= 30  # the first batch took 30 seconds
    progress.last_said -= 30
    progress.update(1)
    assert stream.getvalue().splitlines()[-1] == "Training: 0 percent done, 0 of 10 epochs, about 30 seconds left."
    progress.first = (progress.first[0] - 10, progress.first[1])  # then 199 batches in 10 seconds
    progress.last_said -= 30
    progress.update(199)
    assert stream.getvalue().splitlines()[-1] == "Training: 20 percent done, 2 of 10 epochs, about 40 seconds left."
    say.close()


def test_quarters_passed_in_a_burst_are_not_all_said(tmp_path: Path) -> None:
    say, stream = listener(tmp_path)
    progress = Progress(say, 4, "Playing the games", "games", "lines", after_s=5.0, gap_s=5.0)
    progress.start -= 6  # past the 5 quiet seconds, then three games end at once
    progress.last_said -= 6
    for _ in range(3):
        progress.update(1)
    assert stream.getvalue().splitlines() == ["Playing the games: 25 percent done, 1 of 4 games, about 20 seconds left."]
    say.close()


@pytest.mark.parametrize(
    ("seconds", "said"),
    [(4.26, "4.3 seconds"), (42, "42 seconds"), (60, "1 minute"), (61, "1 minute 1 second"), (125, "2 minutes 5 seconds"),
     (3600, "1 hour"), (7320, "2 hours 2 minutes")],
)  # fmt: skip
def test_durations_are_said_without_zero_parts(seconds: float, said: str) -> None:
    from snake_mc.speech.narrate import format_seconds

    assert format_seconds(seconds) == said


@pytest.mark.parametrize(
    ("rate", "said"),
    [(3, "about 3 moves a second"), (1195, "about 1,200 moves a second"), (102_719, "about 100 thousand moves a second"),
     (338_384, "about 340 thousand moves a second"), (2_345_678, "about 2.3 million moves a second")],
)  # fmt: skip
def test_speeds_are_rounded_to_two_figures_for_the_ear(rate: float, said: str) -> None:
    from snake_mc.speech.narrate import per_second

    assert per_second(rate, "move") == said


def test_a_quarter_is_said_only_20_seconds_after_the_last_sentence(tmp_path: Path) -> None:
    say, stream = listener(tmp_path)
    progress = Progress(say, 4, "Quick work", "items", "lines")
    progress.start -= 15  # a quarter 15 seconds in: a sentence takes about 7 seconds to say, so it is kept back
    progress.last_said -= 15
    progress.update(1)
    assert stream.getvalue() == ""
    progress.start -= 12
    progress.last_said -= 12  # 27 seconds since the last sentence, and a new quarter: about 27 seconds left
    progress.update(1)
    assert stream.getvalue().splitlines() == ["Quick work: 50 percent done, 2 of 4 items, about 30 seconds left."]
    say.close()


@pytest.mark.parametrize(("seconds", "said"), [(24.9, "about 20 seconds"), (25.0, "about 30 seconds"),
                                                (45.0, "about 50 seconds"), (4.0, "about 10 seconds"),
                                                (150.0, "about 3 minutes"), (149.0, "about 2 minutes"),
                                                (5430.0, "about 1 hour 31 minutes")])  # fmt: skip
def test_a_time_left_is_rounded_half_up_as_a_listener_hears_it(seconds: float, said: str) -> None:
    from snake_mc.speech.narrate import about

    assert about(seconds) == said


def test_after_a_cut_last_line_the_next_event_and_sentence_start_on_a_line_of_their_own(tmp_path: Path) -> None:
    """Issue 26: a crash mid-write leaves events.jsonl (or train.log) without its last newline; the resumed run's first
    event must not be glued onto the cut line, where a reader loses both."""
    import json

    events, log = tmp_path / "events.jsonl", tmp_path / "train.log"
    events.write_text('{"event": "start"}\n{"time": "2026-01-01T00:00:00", "event": "pha')
    log.write_text("2026-01-01 00:00:00 A sentence cut mid-wri")
    say = Narrator(log_path=log, events_path=events, progress="off", quiet=True)
    say.event("resumed", iteration=3)
    say.say("Resuming.")
    say.close()
    lines = events.read_text().splitlines()
    assert len(lines) == 3 and lines[1].endswith('"pha') and json.loads(lines[2])["event"] == "resumed"
    assert log.read_text().splitlines()[-1].endswith(" Resuming.")


def test_a_log_that_ends_in_a_newline_or_is_empty_gets_no_blank_line(tmp_path: Path) -> None:
    whole, empty = tmp_path / "events.jsonl", tmp_path / "train.log"
    whole.write_text('{"event": "start"}\n')
    empty.write_text("")
    say = Narrator(log_path=empty, events_path=whole, progress="off", quiet=True)
    say.event("resumed")
    say.say("Resuming.")
    say.close()
    assert len(whole.read_text().splitlines()) == 2 and "\n\n" not in whole.read_text()
    assert empty.read_text().count("\n") == 1 and not empty.read_text().startswith("\n")
