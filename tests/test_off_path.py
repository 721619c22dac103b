"""search/off_path.py: the policy's own moves, a few random safe moves forced, then the policy alone to the end."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest

from snake_mc.game.rules import SnakeBatch, seed_keys
from snake_mc.game.scripted import tour_moves
from snake_mc.search.off_path import handover_points, off_path_evaluation, off_path_report, random_safe_moves
from snake_mc.speech.narrate import Narrator

G = 6
EARLY = handover_points(G)["early"]


class Straight:
    """Never turns; counts the live games of every call."""

    def __init__(self) -> None:
        self.sizes: list[int] = []

    def act(self, batch, greedy: bool = True) -> np.ndarray:
        assert greedy and not batch.done.any(), "a finished game reached the policy"
        self.sizes.append(len(batch))
        return np.ones(len(batch), dtype=np.int64)


class TourPlayer:
    """The tour player (scripted.tour_moves) where its rule applies (the body in tour order); elsewhere a safe move,
    straight on first, as a plain stand-in that never dies needlessly. Records whether the rule applied, per call."""

    def __init__(self) -> None:
        self.applied: list[np.ndarray] = []

    def act(self, batch, greedy: bool = True) -> np.ndarray:
        actions, applies = tour_moves(batch)
        self.applied.append(applies)
        _, _, safe = batch.move_targets()
        fallback = np.where(safe[:, 1], 1, np.where(safe[:, 0], 0, 2))
        return np.where(applies, actions, fallback)


def test_the_hand_over_points_are_150_and_700_moves_on_ten_by_ten():
    assert handover_points(10) == {"early": 150, "late": 700}
    assert handover_points(6)["early"] < handover_points(6)["late"]


def test_the_same_seed_gives_the_same_figures_and_another_seed_other_games():
    first = off_path_evaluation(TourPlayer(), 24, G, seed=3, handover_moves=EARLY)
    again = off_path_evaluation(TourPlayer(), 24, G, seed=3, handover_moves=EARLY)
    other = off_path_evaluation(TourPlayer(), 24, G, seed=40, handover_moves=EARLY)
    keys = ("alive", "filled", "mean_score", "moves_per_apple", "trapped")
    assert [first[k] for k in keys] == [again[k] for k in keys]
    assert [first[k] for k in keys] != [other[k] for k in keys]
    assert first["num_episodes"] == 24 and first["seed"] == 3 and first["handover_moves"] == EARLY
    assert first["forced_moves"] == 3 and first["seconds"] >= 0


def test_the_first_games_of_a_larger_call_are_the_same_games():
    """Game i keeps its seed and its forced moves whatever the number of games, like every evaluation's games."""

    class Tracing(TourPlayer):
        def __init__(self) -> None:
            super().__init__()
            self.heads: dict[int, list[int]] = {}

        def act(self, batch, greedy: bool = True) -> np.ndarray:
            for key, cell in zip(batch.rng_key.tolist(), (batch.head_r * G + batch.head_c).tolist()):
                self.heads.setdefault(key, []).append(cell)
            return super().act(batch, greedy)

    small, large = Tracing(), Tracing()
    off_path_evaluation(small, 3, G, seed=11, handover_moves=EARLY)
    off_path_evaluation(large, 9, G, seed=11, handover_moves=EARLY)
    for key in seed_keys(np.arange(11, 14)).tolist():
        assert small.heads[key] == large.heads[key]


def test_a_forced_move_is_one_of_the_safe_moves_each_as_likely():
    games = SnakeBatch(4, G)  # head at column 3 heading right: two moves on, the wall is straight ahead
    games.step(np.ones(4, dtype=np.int64))
    games.step(np.ones(4, dtype=np.int64))
    assert games.move_targets()[2].tolist() == [[True, False, True]] * 4
    actions, had_one = random_safe_moves(games, np.array([0.0, 0.49, 0.5, 0.99]))
    assert actions.tolist() == [0, 0, 2, 2] and had_one.all()


def test_with_no_safe_move_none_is_made_up_and_the_game_dies():
    # Head in the top-left corner heading up, its own body to its right: off the board or into the body.
    ttl = np.zeros((1, G, G), dtype=np.int16)
    for age, (r, c) in enumerate([(0, 2), (0, 1), (1, 1), (1, 0), (0, 0)], start=1):  # tail first, head last
        ttl[0, r, c] = age
    states = {"ttl": ttl, "head": np.array([[0, 0]]), "direction": np.array([0]), "food": np.array([G * G - 1])}
    games = SnakeBatch.from_states(states)
    assert not games.move_targets()[2].any()
    actions, had_one = random_safe_moves(games, np.array([0.7]))
    assert not had_one.any()
    games.step(actions)
    assert games.terminated.all()


def test_the_forced_moves_are_safe_and_turn_a_policy_that_never_turns():
    # Alone, the straight player hits the wall on its third move. With the hand-over after two moves, the first forced
    # move must turn (straight on dies), and every game survives the three forced moves to be played again.
    stub = Straight()
    result = off_path_evaluation(stub, 30, G, seed=0, handover_moves=2)
    assert result["alive"] == 30 and result["trapped"] == 0
    assert stub.sizes[:3] == [30, 30, 30], "two own moves, three forced ones, and every game is still running"


def test_games_that_end_before_the_hand_over_are_not_counted():
    # Games on these seeds run straight into the wall (move 3); the others follow the tour and live.
    doomed = seed_keys(np.array([1, 4, 5]))

    class HalfDoomed(TourPlayer):
        def act(self, batch, greedy: bool = True) -> np.ndarray:
            return np.where(np.isin(batch.rng_key, doomed), 1, super().act(batch, greedy))

    result = off_path_evaluation(HalfDoomed(), 8, G, seed=0, handover_moves=10)
    assert result["num_episodes"] == 8 and result["alive"] == 5
    assert result["win_rate"] == pytest.approx(result["filled"] / 5)
    none = off_path_evaluation(Straight(), 8, G, seed=0, handover_moves=3)
    assert none["alive"] == 0 and none["filled"] == 0
    assert math.isnan(none["win_rate"]) and math.isnan(none["mean_score"]) and math.isnan(none["moves_per_apple"])


def test_the_tour_player_fills_every_board_on_its_own_path():
    result = off_path_evaluation(TourPlayer(), 12, G, seed=0, handover_moves=EARLY, forced_moves=0)
    assert result["alive"] == 12 and result["win_rate"] == 1.0


def test_off_its_path_the_tour_player_fills_a_board_exactly_when_its_rule_takes_over_again():
    """Measured: once the body lies in tour order again the tour's rule never lets go and the board is filled; a game
    whose body never comes back into order is never filled. Both happen, so the measure tells players apart."""
    seen = set()
    for game in range(24):
        player = TourPlayer()
        result = off_path_evaluation(player, 1, G, seed=game, handover_moves=EARLY)
        after = [bool(a[0]) for a in player.applied[EARLY:]]  # the calls after the forced moves
        taken_over = any(after)
        if taken_over:
            assert all(after[after.index(True):]), "once in tour order, always in tour order"
        assert result["filled"] == int(taken_over)
        seen.add(taken_over)
    assert seen == {True, False}


def test_late_hand_overs_hurt_the_tour_player_more_than_early_ones():
    both = off_path_report(TourPlayer(), 60, G, seed=0)
    assert set(both) == {"early", "late"} and both["late"]["handover_moves"] == handover_points(G)["late"]
    assert both["early"]["alive"] == both["late"]["alive"] == 60
    assert 0 < both["late"]["win_rate"] < both["early"]["win_rate"] < 1
    low, high = both["early"]["win_rate_interval"]
    assert low < both["early"]["win_rate"] < high
    assert both["early"]["moves_per_apple"] > 1


def test_bad_counts_are_refused():
    with pytest.raises(ValueError, match="episodes"):
        off_path_evaluation(Straight(), 0, G)
    with pytest.raises(ValueError, match="hand-over"):
        off_path_evaluation(Straight(), 2, G, handover_moves=-1)
    with pytest.raises(ValueError, match="forced"):
        off_path_evaluation(Straight(), 2, G, forced_moves=-2)


def test_a_long_phase_says_its_plan_in_one_whole_sentence():
    out = io.StringIO()
    narrator = Narrator(progress="lines", stream=out)
    narrator.rates["greedy moves"] = 1.0  # as if this run had measured one move a second: the phase will be long
    off_path_evaluation(Straight(), 4, G, seed=0, handover_moves=2, narrator=narrator, label="early", max_steps=20)
    (line,) = out.getvalue().splitlines()
    assert line.startswith("Off-path evaluation, early: 4 games, 2 own moves each, then 3 random safe moves,")
    assert line.endswith(".") and "expected to take about" in line
