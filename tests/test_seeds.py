"""seeds.py: the seed sets cannot meet, for any --seed (issue 26); the driver and evaluate.py use them; old runs resume."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from test_driver import DECISIONS, _run, world  # noqa: F401  (world is a fixture the driver tests share)

import evaluate
from snake_mc.common import seeds
from snake_mc.common.seeds import GAMES_PER_STREAM, MAX_ITERATION, REPORT_SEED, REPORTS, TUNING, Stream, first_game
from snake_mc.game.rules import SnakeBatch
from snake_mc.run import begin, phases
from snake_mc.run.config import ConfigError, TrainConfig

# The seeds at the edges: the smallest, the two from which the old sums reached the decision and report games, the
# largest the config allows.
EDGE_SEEDS = (0, 1, 125_016, 630_131, 2**31 - 1)
EDGE_ITERATIONS = (0, 1, 2, MAX_ITERATION - 1, MAX_ITERATION)
FIXED = {"tuning": TUNING, "reports": REPORTS, "the reports' first billion": range(REPORT_SEED, REPORT_SEED + 10**9),
         "every earlier version's games": range(0, seeds.BLOCK)}


def run_streams(count: int = GAMES_PER_STREAM) -> dict[tuple, range]:
    """Every stream's games for every edge seed (and edge iteration, for the streams that have one)."""
    found = {}
    for seed in EDGE_SEEDS:
        for stream in Stream:
            for iteration in EDGE_ITERATIONS if stream in seeds.PER_ITERATION else (0,):
                found[(stream.name, seed, iteration)] = seeds.games(stream, seed, iteration, count)
    return found


def meet(a: range, b: range) -> bool:
    return max(a.start, b.start) < min(a.stop, b.stop)


@pytest.mark.parametrize("count", [GAMES_PER_STREAM, 100_000])
def test_no_two_streams_and_no_stream_and_fixed_set_meet_at_the_edge_seeds(count):
    streams = run_streams(count)
    ordered = sorted(streams.items(), key=lambda item: item[1].start)
    for (a, first), (b, second) in itertools.pairwise(ordered):  # sorted intervals: neighbours suffice
        assert first.stop <= second.start, f"{a} meets {b}"
    for (name, games), (fixed, numbers) in itertools.product(streams.items(), FIXED.items()):
        assert not meet(games, numbers), f"{name} meets {fixed}"
    assert max(games.stop for games in streams.values()) <= 2**63, "every game seed is an int64"


def test_the_layout_reads_back_and_every_game_seed_is_a_game():
    """The bit fields read back one to one, and the largest seed any run plays is a game like any other."""
    last = seeds.games(Stream.HARD_POSITIONS, 2**31 - 1, MAX_ITERATION)[-1]
    assert last == 2**63 - 1 - seeds.BLOCK, "block 2**15 - 1 is spare: every game seed stays below 2**63"
    top = SnakeBatch(2, 6, seeds=last - 1 + np.arange(2))  # first + arange(n) as the games make it, no overflow
    assert (top.food >= 0).all(), "both games placed their food"
    for seed in EDGE_SEEDS:
        assert seeds.run_seed_of(first_game(Stream.DECISIONS, seed)) == seed
        assert seeds.run_seed_of(first_game(Stream.DEMONSTRATIONS, seed)) is None
        assert seeds.run_seed_of(first_game(Stream.SELF_PLAY, seed, 3), Stream.SELF_PLAY, 3) == seed
    assert seeds.run_seed_of(1_000_000_000) is None, "an earlier version's decision games are no --seed of this one"
    assert seeds.run_seed_of(DECISIONS + 1) is None


@pytest.mark.parametrize("call", [
    lambda: first_game(Stream.DECISIONS, -1),
    lambda: first_game(Stream.DECISIONS, 2**31),
    lambda: first_game(Stream.SELF_PLAY, 0, MAX_ITERATION + 1),
    lambda: first_game(Stream.HARD_POSITIONS, 0, -1),
    lambda: seeds.games(Stream.DECISIONS, 0, count=GAMES_PER_STREAM + 1),
])  # fmt: skip
def test_what_the_proof_does_not_cover_is_refused(call):
    with pytest.raises(ValueError):
        call()


@pytest.mark.parametrize("knob", ["mc_episodes", "hard_games", "eval_episodes", "imitation_demos", "video_episodes"])
def test_the_config_caps_every_count_of_games_below_a_streams_room(knob):
    """The proof needs every count of games one first game starts to stay below 2**17: the config must refuse more."""
    with pytest.raises(ConfigError):
        TrainConfig(**{knob: GAMES_PER_STREAM, "fast_eval_episodes": 1}).validate()
    with pytest.raises(ConfigError):
        TrainConfig(seed=seeds.MAX_RUN_SEED + 1).validate()
    TrainConfig(seed=seeds.MAX_RUN_SEED).validate()


def test_evaluate_plays_the_report_set_unless_told_otherwise():
    assert REPORT_SEED == 5_000_000_000 and TUNING == range(20_000, 30_000)
    assert evaluate._parser().parse_args(["some.pt"]).seed == REPORT_SEED == REPORTS.start


def test_the_driver_draws_every_game_from_its_stream(world, monkeypatch):  # noqa: F811
    """Demonstrations, self-play, hard positions and every evaluation start where their streams do, at the largest
    --seed, iteration by iteration."""
    drawn: dict[str, list[int]] = {"demos": [], "self-play": [], "hard": []}
    record, self_play, hard = begin.record_scripted, phases.generate_self_play_data, phases.hard_positions

    def spy(name, real):
        def call(*args, seed, **kw):
            drawn[name].append(seed)
            return real(*args, seed=seed, **kw)
        return call

    monkeypatch.setattr(begin, "record_scripted", spy("demos", record))
    monkeypatch.setattr(phases, "generate_self_play_data", spy("self-play", self_play))
    monkeypatch.setattr(phases, "hard_positions", spy("hard", hard))
    (world.workdir / "data/human_demos.npz").unlink()
    world.scores.update({"trained-1": 2.0, "trained-2": 2.0})
    top = 2**31 - 1
    assert _run(world, "--iterations", "2", "--seed", str(top), "--imitation-demos", "2", "--hard-games", "4",
                "--hard-k", "1", "--hard-h", "2", "--hard-rewind", "2") == 0
    assert drawn == {"demos": [first_game(Stream.DEMONSTRATIONS, top)],
                     "self-play": [first_game(Stream.SELF_PLAY, top, n) for n in (1, 2)],
                     "hard": [first_game(Stream.HARD_POSITIONS, top, n) for n in (1, 2)]}
    assert {seed for _, _, seed in world.calls} == {first_game(Stream.DECISIONS, top)}


def test_a_run_saved_with_the_old_seed_sums_resumes_and_measures_again_on_its_own_games(world):  # noqa: F811
    assert _run(world, "--iterations", "0") == 0
    path = world.workdir / "training_logs/run_state.json"
    state = json.loads(path.read_text())
    state["eval_seed"] = 1_000_000_000  # what an earlier version saved for --seed 0
    path.write_text(json.dumps(state))
    world.calls.clear()
    world.scores.update({"trained-1": 2.0})
    assert _run(world, "--iterations", "1") == 0
    assert world.calls[:2] == [("imitation", 2, DECISIONS), ("trained-1", 2, DECISIONS)], world.calls
    log = (world.workdir / "training_logs/train.log").read_text()
    assert ("from game 1,000,000,000, which an earlier version chose; this run evaluates on its own games, so the "
            "current policy first plays this run's 2 fast games") in log
    assert "--seed" not in log.split("measured on 2 fast games")[-1].split(".")[0], "--seed did not change"
    assert json.loads(path.read_text())["eval_seed"] == DECISIONS


def test_play_records_the_demonstration_games_of_its_seed_and_the_video_plays_the_report_set(tmp_path):
    """Every command's games come from a named stream: play.py --seed S records the games a fresh iterative_train.py
    --seed S would, and video_recorder.py, like evaluate.py, plays the report set unless told otherwise."""
    import play
    import video_recorder
    from snake_mc.game.datasets import load_dataset
    from snake_mc.game.scripted import record_scripted

    assert play.main(["--scripted", "2", "--grid-size", "6", "--workdir", str(tmp_path), "--seed", "3"]) == 0
    recorded = load_dataset(tmp_path / "data/human_demos.npz")
    expected = record_scripted(2, grid_size=6, seed=first_game(Stream.DEMONSTRATIONS, 3))
    assert np.array_equal(recorded["food"], expected["food"]) and np.array_equal(recorded["actions"], expected["actions"])
    seed = next(a for a in video_recorder._parser()._actions if "--seed" in a.option_strings)
    assert seed.default == REPORT_SEED
