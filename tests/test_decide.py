"""decide.py: every branch of the loop's decisions, driven directly (no files, no training)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from snake_mc.run.decide import (
    Candidate,
    Comparison,
    Rules,
    Standing,
    decide,
    full_eval_reason,
    paired,
    paired_speed,
    pick_best,
    wilson_interval,
)

FULL = 97  # a filled 10x10 board


def comparison(new: list[int], old: list[int], new_lengths: list[int] | None = None,
               old_lengths: list[int] | None = None) -> Comparison:
    new_a, old_a = np.array(new), np.array(old)
    lengths = [None if x is None else np.array(x) for x in (new_lengths, old_lengths)]
    return Comparison.of(new_a, new_a >= FULL, old_a, old_a >= FULL, *lengths)


STANDING = Standing(mc_K=5, mc_H=20, low_improvement_streak=0, use_human_data=True, has_full_scores=True)
RULES = Rules(eval_full_every=5, adapt_threshold=0.5, adapt_speed_threshold=0.1, adapt_patience=2, K_step=2, H_step=10,
              rollback_z=2.0, include_human_data=True, human_baseline=90.0)


def test_paired_mean_and_standard_error():
    mean, se = paired(np.array([3, 4, 5]), np.array([1, 2, 3]))
    assert mean == 2.0 and se == 0.0
    mean, se = paired(np.array([3, 5]), np.array([2, 2]))
    assert mean == 2.0 and se == pytest.approx(1.0)
    assert math.isnan(paired(np.array([3]), np.array([1]))[1])  # one game has no standard error


def test_comparison_counts_filled_boards_and_uses_the_first_games_of_the_old_scores():
    c = comparison([97, 90, 97, 50], [97, 97, 80, 50, 10, 10])  # the old policy was evaluated on more games
    assert c.games == 4 and c.gain == pytest.approx((0 - 7 + 17 + 0) / 4)
    assert c.new_fill == 0.5 and c.fill_gain == 0.0
    with pytest.raises(ValueError):
        comparison([1, 2, 3], [1, 2])


def test_a_drop_within_the_noise_keeps_the_new_policy():
    # Down 0.5 on average with large per-game swings: not evidence of a drop.
    c = comparison([90, 60, 97, 80], [60, 90, 80, 99])
    d = decide(STANDING, c, None, RULES)
    assert c.gain < 0 and d.keep
    assert "kept" in d.summary and "standard error" in d.summary


def test_a_drop_beyond_two_standard_errors_rolls_back():
    c = comparison([80, 81, 79, 80], [90, 90, 91, 89])
    d = decide(STANDING, c, None, RULES)
    assert not d.keep and "restored" in d.summary and d.sentences[0].startswith("Rollback")


def test_fewer_boards_filled_beyond_the_noise_rolls_back_even_when_the_score_holds():
    # 40 games: the new policy loses 8 boards the old one filled (each by one apple, 96 instead of 97) and gains 8
    # apples elsewhere, so the mean score is level while the share of boards filled drops 20 points.
    old = [97] * 20 + [80] * 20
    new = [96] * 8 + [97] * 12 + [81] * 8 + [80] * 12
    c = comparison(new, old)
    assert c.gain == 0 and c.fill_gain == pytest.approx(-0.2)
    d = decide(STANDING, c, None, RULES)
    assert not d.keep and "boards filled" in d.sentences[0] and "restored" in d.summary
    assert "fewer boards" in full_eval_reason(3, RULES, STANDING, c)


def test_one_board_fewer_in_forty_is_noise_and_keeps_the_policy():
    old = [97] * 20 + [80] * 20
    new = [96] + [97] * 19 + [81] + [80] * 19
    d = decide(STANDING, comparison(new, old), None, RULES)
    assert d.keep


def test_the_fill_rate_interval_is_wilsons_and_stays_inside_zero_and_one():
    low, high = wilson_interval(1000, 1000)
    assert high == 1.0 and low == pytest.approx(0.99617, abs=1e-4)
    low, high = wilson_interval(50, 100)
    assert low == pytest.approx(0.4038, abs=1e-3) and high == pytest.approx(0.5962, abs=1e-3)
    assert wilson_interval(0, 20)[0] == 0.0
    assert all(math.isnan(x) for x in wilson_interval(0, 0))


def test_the_full_comparison_decides_when_there_is_one():
    fast = comparison([50, 50], [90, 91])  # a clear drop on the fast games
    full = comparison([90, 95, 97, 96], [90, 95, 96, 96])  # but not on the full games
    d = decide(STANDING, fast, full, RULES)
    assert d.keep and d.compared is full


def test_a_gain_above_the_threshold_restarts_the_low_improvement_count():
    # Which scores the gain is measured against (the replaced policy's, on the same games, never an older full score)
    # is the driver's choice: test_driver.py::test_every_comparison_is_on_the_same_games_and_a_fast_kept_policy_...
    replaced = [95, 94, 96, 95]
    c = comparison([96, 95, 97, 96], replaced)
    assert c.gain == pytest.approx(1.0)
    d = decide(STANDING, c, None, RULES)
    assert d.low_improvement_streak == 0  # a gain of 1 is above the 0.5 threshold


def test_search_grows_after_patience_low_improvement_iterations_then_the_count_restarts():
    low = comparison([90, 91, 90, 91], [90, 91, 90, 90])  # up 0.25
    first = decide(STANDING, low, None, RULES)
    assert (first.low_improvement_streak, first.grew, first.mc_K, first.mc_H) == (1, False, 5, 20)
    second = decide(Standing(5, 20, first.low_improvement_streak, True, True), low, None, RULES)
    assert (second.low_improvement_streak, second.grew, second.mc_K, second.mc_H) == (0, True, 7, 30)
    assert "grew to 7 and 30" in second.summary


def test_a_rollback_counts_as_low_improvement():
    c = comparison([80, 81, 79, 80], [90, 90, 91, 89])
    d = decide(Standing(5, 20, 1, True, True), c, None, RULES)
    assert not d.keep and d.grew


def test_demonstrations_are_dropped_once_a_kept_policy_beats_their_mean():
    c = comparison([91, 92, 93, 92], [89, 90, 91, 90])
    d = decide(STANDING, c, None, RULES)
    assert d.dropped_human_data and not d.use_human_data and "dropped" in d.summary
    below = decide(STANDING, comparison([85, 86, 85, 86], [84, 85, 84, 85]), None, RULES)
    assert below.use_human_data and not below.dropped_human_data
    off = decide(STANDING, c, None, Rules(**{**RULES.__dict__, "eval_full_every": 2, "include_human_data": False}))
    assert off.use_human_data and not off.dropped_human_data, "this command's --no-include-human-data is not saved"


def test_each_full_evaluation_trigger():
    level = comparison([90, 91, 90, 91], [90, 91, 90, 91])
    no_full = Standing(5, 20, 0, True, has_full_scores=False)
    assert "no full score" in full_eval_reason(3, RULES, no_full, level)
    assert "multiple of 5" in full_eval_reason(10, RULES, STANDING, level)
    assert "rose by" in full_eval_reason(3, RULES, STANDING, comparison([92, 93, 92, 93], [90, 91, 90, 91]))
    assert "rollback" in full_eval_reason(3, RULES, STANDING, comparison([80, 81, 79, 80], [90, 90, 91, 89]))
    assert full_eval_reason(3, RULES, STANDING, level) is None


def test_pick_best_prefers_highest_score_and_skips_unusable():
    cands = [Candidate(Path("a"), None, "corrupt"), Candidate(Path("b"), 3.0), Candidate(Path("c"), 5.0)]
    assert pick_best(cands).path == Path("c")
    assert pick_best([Candidate(Path("a"), None, "bad")]) is None
    assert pick_best([Candidate(Path("x"), 2.0), Candidate(Path("y"), 2.0)]).path == Path("x")


def test_the_same_score_in_every_game_is_said_in_a_few_words_and_the_streak_is_a_detail():
    """A policy that plays every game exactly as the one it replaces (the tour-trained network, iteration after
    iteration) is said without a string of zeros, and the low-improvement count goes to the log, not the ear."""
    c = comparison([97, 97, 97, 97], [97, 97, 97, 97])
    d = decide(STANDING, c, None, RULES)
    assert d.sentences[0] == ("The new policy is kept: against the policy it would replace, it scored the same in each "
                              "of the same 4 games.")
    # Every board filled and no faster (its speed unknown here): a stall like any other (issue 24, item 3).
    assert d.details and d.details[0].startswith("Low improvement for 1 iteration")
    assert d.low_improvement_streak == 1 and not d.grew
    stalled = decide(STANDING, comparison([90, 91, 90, 91], [90, 91, 90, 91]), None, RULES)
    assert stalled.low_improvement_streak == 1 and stalled.details[0].startswith("Low improvement for 1 iteration")


# ----- speed: moves per apple on the boards both policies filled (issue 24, item 3) ------------------------------
GAMES = 40
OLD_LENGTHS = [2910 + 10 * (i % 5) for i in range(GAMES)]  # about 30 moves per apple on every filled board
SPREAD = [-60, -20, 20, 60]  # per-game noise in moves, so the change has a standard error of about 0.1


def moved(extra_moves: int) -> list[int]:
    """The old lengths with `extra_moves` more per game on average (about extra_moves / 97 moves per apple)."""
    return [n + extra_moves + SPREAD[i % 4] for i, n in enumerate(OLD_LENGTHS)]


def test_the_speed_is_paired_on_the_boards_both_filled_and_unknown_below_two():
    gain, se, games = paired_speed(np.array([97, 97, 50, 97]), np.array([970, 1940, 999, 1067]),
                                   np.array([True, True, False, True]), np.array([97, 60, 97, 97]),
                                   np.array([970, 999, 1940, 970]), np.array([True, False, True, True]))
    assert games == 2 and gain == pytest.approx(0.5) and se == pytest.approx(0.5)  # games 0 and 3: 10 to 10, 10 to 11
    one = comparison([97, 50], [97, 97], [970, 500], [1067, 970])
    assert one.speed_games == 1 and math.isnan(one.speed_gain) and math.isnan(one.speed_se)
    assert "moves per apple" not in one.sentence() and "moves per apple" not in decide(STANDING, one, None, RULES).summary
    assert one.new_moves_per_apple == pytest.approx(1470 / 147)  # all its moves over all its apples, filled or not


def test_a_policy_level_on_score_and_fill_but_slower_beyond_the_noise_is_rolled_back_for_its_speed():
    c = comparison([FULL] * GAMES, [FULL] * GAMES, moved(49), OLD_LENGTHS)
    assert c.gain == 0 and c.fill_gain == 0 and c.speed_games == GAMES
    assert c.speed_gain == pytest.approx(49 / 97) and c.speed_se == pytest.approx(0.073, abs=0.005)
    d = decide(STANDING, c, None, RULES)
    assert not d.keep and "restored" in d.summary
    assert d.sentences[0].startswith("Rollback: against the policy it would replace, it scored the same in each of the "
                                     "same 40 games, and moves per apple are up 0.51, standard error 0.07, on the 40 "
                                     "games both filled; moves per apple rose by more than 2 standard errors, so it is "
                                     "slower and the previous policy is restored.")
    assert "moves per apple up 0.51, standard error 0.07, on the 40 games both filled" in d.summary
    assert "moves per apple rose" in full_eval_reason(3, RULES, STANDING, c), "a rollback waits for the full games"


def test_a_policy_that_fills_more_boards_beyond_the_noise_is_kept_even_when_slower():
    """The fill rate comes first: speed decides only between policies that fill about as many boards."""
    old = [FULL] * 20 + [50] * 20  # the replaced policy filled half the boards
    c = comparison([FULL] * GAMES, old, moved(49), OLD_LENGTHS)
    assert c.fill_gain == 0.5 and c.speed_gain > 2 * c.speed_se
    assert decide(STANDING, c, None, RULES).keep


def test_a_faster_policy_is_kept_and_restarts_the_low_improvement_count():
    c = comparison([FULL] * GAMES, [FULL] * GAMES, moved(-39), OLD_LENGTHS)
    d = decide(Standing(5, 20, 1, True, True), c, None, RULES)
    assert d.keep and d.low_improvement_streak == 0 and not d.grew
    assert d.sentences[0] == ("The new policy is kept: against the policy it would replace, it scored the same in each "
                              "of the same 40 games, and moves per apple are down 0.40, standard error 0.07, on the 40 "
                              "games both filled.")
    assert d.details[0].startswith("Moves per apple fell by 0.4, at least the threshold of 0.1")
    assert "moves per apple fell by 0.4" in full_eval_reason(3, RULES, STANDING, c)
    slight = comparison([FULL] * GAMES, [FULL] * GAMES, moved(-5), OLD_LENGTHS)  # down 0.05: under the threshold
    assert decide(Standing(5, 20, 1, True, True), slight, None, RULES).grew


def test_a_policy_level_on_everything_grows_k_and_h_after_patience():
    level = comparison([FULL] * GAMES, [FULL] * GAMES, OLD_LENGTHS, OLD_LENGTHS)
    assert (level.speed_gain, level.speed_se) == (0, 0)
    first = decide(STANDING, level, None, RULES)
    assert first.keep and (first.low_improvement_streak, first.grew) == (1, False)
    assert first.sentences[0].endswith("it scored the same in each of the same 40 games."), "no string of zeros"
    second = decide(Standing(5, 20, 1, True, True), level, None, RULES)
    assert (second.low_improvement_streak, second.grew, second.mc_K, second.mc_H) == (0, True, 7, 30)
    assert second.sentences[1] == ("The score improved by less than 0.5, and moves per apple fell by less than 0.1, for "
                                   "2 iterations in a row, so the search grows: K from 5 to 7, H from 20 to 30.")
    assert full_eval_reason(3, RULES, STANDING, level) is None


def test_a_different_speed_threshold_reads_the_same_change_otherwise():
    c = comparison([FULL] * GAMES, [FULL] * GAMES, moved(-39), OLD_LENGTHS)  # down 0.4
    strict = Rules(**{**RULES.__dict__, "eval_full_every": 2, "adapt_speed_threshold": 0.5, "human_baseline": 100.0})
    assert decide(Standing(5, 20, 1, True, True), c, None, strict).grew


@pytest.mark.parametrize("old_lengths", [None, []], ids=["no lengths", "a state without lengths"])
def test_an_old_style_comparison_without_lengths_decides_as_before(old_lengths):
    cases = [([FULL] * GAMES, [FULL] * GAMES), ([80, 81, 79, 80], [90, 90, 91, 89]), ([96, 95, 97, 96], [95, 94, 96, 95]),
             ([90, 60, 97, 80], [60, 90, 80, 99]), ([96] * 8 + [97] * 12 + [81] * 8 + [80] * 12, [97] * 20 + [80] * 20)]
    kept = [True, False, True, True, False]  # level, a clear score drop, a gain, noise, fewer boards (tests above)
    for (new, old), keep in zip(cases, kept):
        lengths = moved(49)[: len(new)]  # slower, were the replaced policy's lengths known
        c = comparison(new, old, lengths, old_lengths)
        bare = comparison(new, old)
        assert math.isnan(c.speed_gain) and math.isnan(c.speed_se) and c.speed_games == 0
        for standing in (STANDING, Standing(5, 20, 1, True, True)):
            d, before = decide(standing, c, None, RULES), decide(standing, bare, None, RULES)
            assert (d.keep, d.low_improvement_streak, d.grew, d.sentences, d.summary) == (
                before.keep, before.low_improvement_streak, before.grew, before.sentences, before.summary)
            assert d.keep == keep and "moves per apple" not in d.summary and "moves per apple" not in d.sentences[0]


def test_a_search_that_cannot_grow_says_so_instead_of_growing_from_k_to_the_same_k():
    level = comparison([FULL] * GAMES, [FULL] * GAMES, OLD_LENGTHS, OLD_LENGTHS)
    stuck = Rules(**{**RULES.__dict__, "K_step": 0, "H_step": 0})
    d = decide(Standing(10_000, 100_000, 1, True, True), level, None, stuck)
    assert not d.grew and (d.mc_K, d.mc_H) == (10_000, 100_000) and d.low_improvement_streak == 0
    assert not any("grows" in s for s in d.sentences) and "cannot grow further" in d.details[-1]
