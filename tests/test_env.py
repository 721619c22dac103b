"""The Snake rules, the batch/one-game equivalence, cloning, seeding, state export and argument checks of env.py."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from snake_mc.game import rules as env
from snake_mc.game.rules import DIRECTIONS, SnakeBatch, SnakeEnv, seed_keys

UP, RIGHT, DOWN, LEFT = range(4)
TURN_LEFT, STRAIGHT, TURN_RIGHT = range(3)
STEP = {UP: (-1, 0), RIGHT: (0, 1), DOWN: (1, 0), LEFT: (0, -1)}


def occupied(batch: SnakeBatch, i: int) -> set[tuple[int, int]]:
    """The cells game i's snake covers, read from the board (what the rules see)."""
    g = batch.grid_size
    return {(int(k) // g, int(k) % g) for k in np.flatnonzero(batch.ttl()[i])}


def head(batch: SnakeBatch, i: int = 0) -> tuple[int, int]:
    return int(batch.head_r[i]), int(batch.head_c[i])


def food_cell(batch: SnakeBatch, i: int = 0) -> tuple[int, int] | None:
    f = int(batch.food[i])
    return None if f < 0 else divmod(f, batch.grid_size)


def snake_batch_of(envs: list[SnakeEnv]) -> SnakeBatch:
    """One batch holding copies of several one-game envs (used to build batches in chosen positions)."""
    states = [e.game.export_states() for e in envs]
    merged = {k: np.concatenate([s[k] for s in states]) for k in states[0]}
    return SnakeBatch.from_states(merged, seeds=np.arange(len(envs)))


# ----- rules ---------------------------------------------------------------------------------------------------
def test_acceptance_position_builds_and_plays() -> None:
    e = env.SnakeEnv.from_state(10, [(5, 5), (5, 4), (5, 3)], "right", (5, 8))
    obs = e._obs()
    assert obs[5, 5] == 2 and obs[5, 4] == 1 and obs[5, 3] == 1 and obs[5, 8] == 3
    assert int((obs > 0).sum()) == 4
    for expected_reward in (0.0, 0.0, 1.0):
        _, reward, terminated, truncated, info = e.step(STRAIGHT)
        assert reward == expected_reward and not terminated and not truncated
    assert info["score"] == 1 and info["length"] == 4
    assert head(e.game) == (5, 8)


def test_wall_is_death() -> None:
    e = SnakeEnv.from_state(6, [(2, 5), (2, 4), (2, 3)], "right", (0, 0))
    obs, reward, terminated, truncated, info = e.step(STRAIGHT)
    assert terminated and not truncated
    assert reward == -1.0
    assert info["score"] == 0 and not info["won"]
    assert head(e.game) == (2, 5)  # a dead snake stays where it was


@pytest.mark.parametrize(
    "body, heading, action",
    [
        ([(0, 0), (1, 0), (2, 0)], "up", STRAIGHT),
        ([(0, 0), (1, 0), (2, 0)], "up", TURN_LEFT),
        ([(0, 0), (0, 1), (0, 2)], "left", STRAIGHT),
        ([(0, 0), (0, 1), (0, 2)], "left", TURN_RIGHT),
        ([(4, 4), (3, 4), (2, 4)], "down", STRAIGHT),
        ([(4, 4), (3, 4), (2, 4)], "down", TURN_LEFT),
    ],
)
def test_every_wall_kills(body: list[tuple[int, int]], heading: str, action: int) -> None:
    e = SnakeEnv.from_state(5, body, heading, (2, 2))
    _, reward, terminated, truncated, _ = e.step(action)
    assert terminated and not truncated and reward == -1.0


def test_running_into_own_body_is_death() -> None:
    # A U shape heading up: turning left enters (5, 4), a body cell two moves from freeing.
    e = SnakeEnv.from_state(10, [(5, 5), (6, 5), (6, 4), (5, 4), (4, 4)], "up", (0, 0))
    _, reward, terminated, truncated, _ = e.step(TURN_LEFT)
    assert terminated and not truncated and reward == -1.0


def test_moving_into_the_cell_the_tail_leaves_is_legal() -> None:
    # A length-4 snake filling a 2x2 square chases its tail forever by turning left.
    e = SnakeEnv.from_state(10, [(5, 5), (6, 5), (6, 4), (5, 4)], "up", None)
    tail_cells = [(5, 4), (6, 4), (6, 5), (5, 5)]
    for move in range(12):
        _, reward, terminated, truncated, info = e.step(TURN_LEFT)
        assert not terminated and not truncated, f"move {move} killed a snake following its tail"
        assert head(e.game) == tail_cells[move % 4]
        assert info["length"] == 4 and reward == 0.0
        assert occupied(e.game, 0) == {(5, 4), (6, 4), (6, 5), (5, 5)}


def test_eating_grows_the_snake_and_places_food_on_a_free_cell() -> None:
    for seed in range(20):
        e = SnakeEnv.from_state(5, [(2, 2), (2, 1), (2, 0)], "right", (2, 3))
        e.game.reseed(seed_keys([seed]))
        _, reward, terminated, _, info = e.step(STRAIGHT)
        assert reward == 1.0 and not terminated
        assert info["score"] == 1 and info["length"] == 4
        body = occupied(e.game, 0)
        assert body == {(2, 3), (2, 2), (2, 1), (2, 0)}  # the tail stayed: the snake grew
        new_food = food_cell(e.game)
        assert new_food is not None and new_food not in body
        assert e.game.since_food[0] == 0


def test_food_lands_uniformly_on_free_cells() -> None:
    # 400 clones of one position eat at once with different streams; the new food covers every free cell,
    # including the cell the tail left on the move before.
    e = SnakeEnv.from_state(4, [(1, 1), (1, 0), (0, 0)], "right", (1, 3))
    e.step(STRAIGHT)  # the tail leaves (0, 0)
    clones = e.game.repeat(400)
    clones.reseed(seed_keys(np.arange(400)))
    assert clones.step(np.full(400, STRAIGHT))[3].all()
    cells = [divmod(int(f), 4) for f in clones.food]
    body = {(1, 3), (1, 2), (1, 1), (1, 0)}
    free = {(r, c) for r in range(4) for c in range(4)} - body
    assert set(cells) == free
    counts = np.array([cells.count(cell) for cell in free])
    assert counts.min() >= 15  # 12 cells, about 33 each: none is starved of food


def test_successive_apples_are_placed_independently() -> None:
    # Feed one snake eight apples in a row (moving the food in its way) and record where each new apple lands.
    e = SnakeEnv.from_state(12, [(5, 2), (5, 1), (5, 0)], "right", (5, 3))
    e.game.reseed(seed_keys([77]))
    placed = []
    for col in range(3, 11):
        e.game.food[0] = 5 * 12 + col
        assert e.step(STRAIGHT)[1] == 1.0
        placed.append(int(e.game.food[0]))
    assert len(set(placed)) >= 6


def _nearly_full_4x4(reward: str = "default") -> SnakeEnv:
    path = [(0, 0), (0, 1), (0, 2), (0, 3), (1, 3), (1, 2), (1, 1), (1, 0),
            (2, 0), (2, 1), (2, 2), (2, 3), (3, 3), (3, 2), (3, 1), (3, 0)]  # fmt: skip
    body = path[:-1][::-1]  # head at (3, 1), heading left towards the last free cell
    return SnakeEnv.from_state(4, body, "left", path[-1], reward=reward)


def test_filling_the_board_wins() -> None:
    e = _nearly_full_4x4()
    assert e.score == 12
    obs, reward, terminated, truncated, info = e.step(STRAIGHT)
    assert terminated and not truncated
    assert info["won"] and info["score"] == 13 and info["length"] == 16
    assert reward == 1.0
    assert (obs > 0).all() and (obs != 3).all()  # full board, no food left
    assert e.game.food[0] == -1


def test_win_bonus_preset_pays_for_the_win() -> None:
    _, reward, terminated, _, info = _nearly_full_4x4("win-bonus").step(STRAIGHT)
    assert terminated and info["won"] and reward == 11.0


def test_starvation_truncates_after_starve_steps_moves_without_food() -> None:
    e = SnakeEnv.from_state(10, [(5, 5), (6, 5), (6, 4), (5, 4)], "up", None, starve_steps=7)
    for _ in range(6):
        _, _, terminated, truncated, _ = e.step(TURN_LEFT)
        assert not terminated and not truncated
    _, reward, terminated, truncated, info = e.step(TURN_LEFT)
    assert truncated and not terminated and not info["won"]
    assert reward == 0.0
    with pytest.raises(RuntimeError, match="reset"):
        e.step(TURN_LEFT)


def test_eating_resets_the_starvation_count() -> None:
    e = SnakeEnv.from_state(10, [(5, 5), (5, 4), (5, 3)], "right", (5, 8), starve_steps=4)
    for _ in range(3):  # eats on the third move
        assert not e.step(STRAIGHT)[3]
    assert e.score == 1 and e.game.since_food[0] == 0
    e.game.food[0] = -1  # no more food: four more moves starve it
    results = [e.step(move)[3] for move in (TURN_LEFT, TURN_LEFT, TURN_LEFT, TURN_LEFT)]
    assert results == [False, False, False, True]


def test_default_starvation_limit_is_twice_the_board() -> None:
    assert SnakeBatch(1, 7).starve_steps == 98
    assert SnakeEnv(10).game.starve_steps == 200


@pytest.mark.parametrize("heading", range(4))
@pytest.mark.parametrize("action", range(3))
def test_actions_are_relative_to_heading(heading: int, action: int) -> None:
    dr, dc = STEP[heading]
    body = [(5 - k * dr, 5 - k * dc) for k in range(3)]
    e = SnakeEnv.from_state(11, body, DIRECTIONS[heading], None)
    e.step(action)
    new_heading = (heading + action - 1) % 4  # left is anticlockwise, right clockwise
    assert int(e.game.direction[0]) == new_heading
    assert head(e.game) == (5 + STEP[new_heading][0], 5 + STEP[new_heading][1])


def test_new_games_start_in_the_middle_heading_right() -> None:
    b = SnakeBatch(3, 9, seeds=[1, 2, 3])
    for i in range(3):
        assert head(b, i) == (4, 4) and int(b.direction[i]) == RIGHT
        assert occupied(b, i) == {(4, 4), (4, 3), (4, 2)}
        assert food_cell(b, i) not in occupied(b, i)


def test_finished_games_do_not_move_or_earn() -> None:
    dying = SnakeEnv.from_state(6, [(2, 5), (2, 4), (2, 3)], "right", (0, 0))
    living = SnakeEnv.from_state(6, [(2, 2), (2, 1), (2, 0)], "right", (5, 5))
    b = snake_batch_of([dying, living])
    rewards, terminated, truncated, _ = b.step(np.array([STRAIGHT, STRAIGHT]))
    assert terminated.tolist() == [True, False] and rewards.tolist() == [-1.0, 0.0]
    frozen = {name: getattr(b, name)[0].copy() for name in SnakeBatch._ARRAYS}
    for action in (TURN_LEFT, STRAIGHT, TURN_RIGHT, STRAIGHT):
        rewards, terminated, truncated, ate = b.step(np.array([action, TURN_RIGHT]))
        assert rewards[0] == 0.0 and not terminated[0] and not truncated[0] and not ate[0]
        for name, value in frozen.items():
            np.testing.assert_array_equal(getattr(b, name)[0], value, err_msg=f"finished game's {name} changed")
    assert b.done.tolist()[0] and not b.done.tolist()[1]


def test_finished_games_earn_nothing_under_a_step_cost() -> None:
    b = snake_batch_of([SnakeEnv.from_state(6, [(2, 5), (2, 4), (2, 3)], "right", (0, 0))])
    b = SnakeBatch.from_states(b.export_states(), reward="hungry")
    assert b.step(np.array([STRAIGHT]))[0][0] == -1.0
    assert b.step(np.array([STRAIGHT]))[0][0] == 0.0


# ----- SnakeBatch and SnakeEnv agree ---------------------------------------------------------------------------
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    grid_size=st.integers(4, 12),
    seeds=st.lists(st.integers(0, 2**40), min_size=1, max_size=5),
    action_seed=st.integers(0, 2**32 - 1),
    starve_steps=st.one_of(st.none(), st.integers(1, 30)),
)
def test_batch_and_env_agree_on_random_play(grid_size: int, seeds: list[int], action_seed: int, starve_steps: int | None) -> None:
    rng = np.random.default_rng(action_seed)
    n = len(seeds)
    batch = SnakeBatch(n, grid_size, seeds=seeds, starve_steps=starve_steps)
    envs = [SnakeEnv(grid_size, starve_steps=starve_steps) for _ in seeds]
    for i, (e, s) in enumerate(zip(envs, seeds)):
        obs, info = e.reset(seed=s)
        np.testing.assert_array_equal(obs, batch.grid(i))
    for _ in range(300):
        if batch.done.all():
            break
        live = ~batch.done
        actions = rng.integers(0, 3, size=n)
        rewards, terminated, truncated, _ = batch.step(actions)
        for i in np.flatnonzero(live):
            obs, reward, term, trunc, info = envs[i].step(int(actions[i]))
            np.testing.assert_array_equal(obs, batch.grid(i))
            assert (reward, term, trunc) == (rewards[i], terminated[i], truncated[i])
            assert info["score"] == batch.score[i] and info["length"] == batch.length[i]
            # invariants of a legal board: one head, length-1 body cells, food on a free cell unless won
            assert (obs == 2).sum() == 1 and (obs == 1).sum() == batch.length[i] - 1
            assert (obs == 3).sum() == (0 if info["won"] else 1)
        assert not rewards[~live].any()
    assert batch.done.all() or batch.since_food.max() < batch.starve_steps


# ----- clones, seeds, export -----------------------------------------------------------------------------------
def _snapshot(b: SnakeBatch) -> dict[str, np.ndarray]:
    return {name: getattr(b, name).copy() for name in SnakeBatch._ARRAYS}


def _assert_unchanged(b: SnakeBatch, snap: dict[str, np.ndarray]) -> None:
    for name, value in snap.items():
        np.testing.assert_array_equal(getattr(b, name), value, err_msg=f"{name} changed")


@pytest.mark.parametrize("make_clone", ["repeat", "take", "copy"])
def test_clones_evolve_independently(make_clone: str) -> None:
    source = SnakeBatch(3, 8, seeds=[5, 6, 7])
    source.step(np.array([STRAIGHT, TURN_LEFT, TURN_RIGHT]))
    clone = {"repeat": lambda: source.repeat(2), "take": lambda: source.take(np.array([2, 0, 1])), "copy": source.copy}[
        make_clone
    ]()
    snap = _snapshot(source)
    rng = np.random.default_rng(0)
    for _ in range(15):
        clone.step(rng.integers(0, 3, size=clone.num_games))
    clone.reset_games(np.arange(clone.num_games), np.arange(clone.num_games) + 100)
    _assert_unchanged(source, snap)
    clone_snap = _snapshot(clone)
    for _ in range(15):
        source.step(rng.integers(0, 3, size=3))
    _assert_unchanged(clone, clone_snap)


def test_take_and_repeat_copy_the_right_games() -> None:
    b = SnakeBatch(3, 8, seeds=[5, 6, 7])
    r = b.repeat(2)
    t = b.take(np.array([2, 0]))
    assert r.num_games == 6 and t.num_games == 2
    for i in range(6):
        np.testing.assert_array_equal(r.grid(i), b.grid(i // 2))
    np.testing.assert_array_equal(t.grid(0), b.grid(2))
    np.testing.assert_array_equal(t.grid(1), b.grid(0))


def test_drop_finished_keeps_the_running_games_in_order_and_they_play_on_alike() -> None:
    b = SnakeBatch(40, 6, seeds=np.arange(40), starve_steps=5)
    rng = np.random.default_rng(2)
    for _ in range(5):  # walls, bodies and starvation end some games
        b.step(rng.integers(0, 3, 40))
    running = np.flatnonzero(~b.done)
    assert 0 < len(running) < 40
    expected = b.take(running)
    kept = b.drop_finished()
    np.testing.assert_array_equal(kept, running)
    for name in SnakeBatch._ARRAYS:
        np.testing.assert_array_equal(getattr(b, name), getattr(expected, name), err_msg=name)
    actions = rng.integers(0, 3, len(running))
    for out_b, out_e in zip(b.step(actions), expected.step(actions)):
        np.testing.assert_array_equal(out_b, out_e)
    for name in SnakeBatch._ARRAYS:
        np.testing.assert_array_equal(getattr(b, name), getattr(expected, name), err_msg=name)


def test_env_clone_is_independent() -> None:
    e = SnakeEnv(8)
    e.reset(seed=3)
    c = e.clone()
    before = e._obs().copy()
    c.step(STRAIGHT)
    np.testing.assert_array_equal(e._obs(), before)
    assert not np.array_equal(c._obs(), before)


def test_repeated_clones_share_food_until_reseeded() -> None:
    e = SnakeEnv.from_state(10, [(5, 5), (5, 4), (5, 3)], "right", (5, 6))
    shared = e.game.repeat(16)
    shared.step(np.full(16, STRAIGHT))
    assert len(set(shared.food.tolist())) == 1  # same stream, same next apple
    fresh = e.game.repeat(16)
    fresh.reseed(seed_keys(np.arange(16) + 1000))
    fresh.step(np.full(16, STRAIGHT))
    assert len(set(fresh.food.tolist())) >= 8


def test_same_seed_same_game() -> None:
    rng = np.random.default_rng(1)
    actions = rng.integers(0, 3, size=(200, 16))
    a = SnakeBatch(16, 6, seeds=np.arange(16) * 7 + 3)
    b = SnakeBatch(16, 6, seeds=np.arange(16) * 7 + 3)
    for row in actions:
        ra = a.step(row)
        rb = b.step(row)
        for x, y in zip(ra, rb):
            np.testing.assert_array_equal(x, y)
        for i in range(16):
            np.testing.assert_array_equal(a.grid(i), b.grid(i))


def test_env_reset_with_the_same_seed_replays_the_game() -> None:
    def play(seed: int) -> list[np.ndarray]:
        e = SnakeEnv(6)
        frames = [e.reset(seed=seed)[0]]
        rng = np.random.default_rng(9)
        while True:
            obs, _, term, trunc, _ = e.step(int(rng.integers(0, 3)))
            frames.append(obs)
            if term or trunc:
                return frames

    first, second = play(42), play(42)
    assert len(first) == len(second)
    for x, y in zip(first, second):
        np.testing.assert_array_equal(x, y)


def test_different_seeds_place_food_differently() -> None:
    b = SnakeBatch(64, 10, seeds=np.arange(64))
    assert len(set(b.food.tolist())) >= 20
    e1, e2 = SnakeEnv(10), SnakeEnv(10)
    foods1 = {int(e1.reset(seed=s)[0].argmax()) for s in range(10)}
    foods2 = {int(e2.reset(seed=s)[0].argmax()) for s in range(10, 20)}
    assert len(foods1) > 1 and foods1 != foods2


def test_export_and_rebuild_round_trip() -> None:
    rng = np.random.default_rng(4)
    b = SnakeBatch(32, 7, seeds=np.arange(32))
    for _ in range(6):
        b.step(rng.integers(0, 3, size=32))
    keep = np.flatnonzero(~b.done)
    assert len(keep) >= 4
    b = b.take(keep)
    states = b.export_states()
    rebuilt = SnakeBatch.from_states(states, seeds=np.arange(len(keep)))
    for i in range(len(keep)):
        np.testing.assert_array_equal(rebuilt.grid(i), b.grid(i))
    np.testing.assert_array_equal(rebuilt.score, b.score)
    for name in ("ttl", "head", "direction", "food", "since_food"):
        np.testing.assert_array_equal(rebuilt.export_states()[name], states[name])
    # With the same food stream, the rebuilt games play on exactly like the originals.
    rebuilt.rng_key, rebuilt.rng_ctr = b.rng_key.copy(), b.rng_ctr.copy()
    for _ in range(100):
        actions = rng.integers(0, 3, size=len(keep))
        for x, y in zip(b.step(actions), rebuilt.step(actions)):
            np.testing.assert_array_equal(x, y)
        for i in range(len(keep)):
            np.testing.assert_array_equal(rebuilt.grid(i), b.grid(i))


def test_from_state_then_export_gives_the_position_back() -> None:
    body = [(1, 1), (1, 2), (2, 2), (3, 2)]
    e = SnakeEnv.from_state(5, body, "left", (4, 4))
    s = e.game.export_states()
    assert [int(s["ttl"][0][r, c]) for r, c in body] == [4, 3, 2, 1]
    assert int((s["ttl"][0] > 0).sum()) == 4
    assert s["head"][0].tolist() == [1, 1] and int(s["direction"][0]) == LEFT and int(s["food"][0]) == 24


# ----- invalid arguments ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("size", [3, 0, -2])
def test_grid_smaller_than_four_is_refused(size: int) -> None:
    for make in (lambda: SnakeEnv(size), lambda: SnakeBatch(2, size)):
        with pytest.raises(ValueError, match=rf"Grid size {size} is too small"):
            make()


@pytest.mark.parametrize(
    "body, fragment",
    [
        ([(5, 5), (5, 4), (5, 5)], "overlaps"),
        ([(0, 9), (0, 10), (0, 11)], "(0, 10)"),
        ([(0, 0), (-1, 0), (-2, 0)], "(-1, 0)"),
        ([(5, 5), (5, 3), (5, 2)], "(5, 5) and (5, 3)"),
        ([(5, 5), (6, 6), (7, 6)], "not neighbours"),
    ],
)
def test_bad_bodies_are_refused(body: list[tuple[int, int]], fragment: str) -> None:
    with pytest.raises(ValueError, match=re.escape(fragment)):
        SnakeEnv.from_state(10, body, "right", None)


def test_bad_direction_and_food_are_refused() -> None:
    with pytest.raises(ValueError, match="'north'"):
        SnakeEnv.from_state(10, [(5, 5), (5, 4)], "north", None)
    with pytest.raises(ValueError, match=re.escape("(5, 4)")):
        SnakeEnv.from_state(10, [(5, 5), (5, 4)], "right", (5, 4))
    with pytest.raises(ValueError, match=re.escape("(10, 0)")):
        SnakeEnv.from_state(10, [(5, 5), (5, 4)], "right", (10, 0))


@pytest.mark.parametrize("action", [-1, 3, 7])
def test_actions_outside_zero_to_two_are_refused(action: int) -> None:
    e = SnakeEnv(6)
    e.reset(seed=0)
    with pytest.raises(ValueError, match=rf"Action {action} is not valid"):
        e.step(action)
    b = SnakeBatch(3, 6)
    snap = _snapshot(b)
    with pytest.raises(ValueError, match=rf"Action {action} is not valid"):
        b.step(np.array([1, action, 1]))
    _assert_unchanged(b, snap)  # a refused step changes nothing


def test_wrong_number_of_actions_is_refused() -> None:
    with pytest.raises(ValueError, match=r"Expected 3 actions.*\(2,\)"):
        SnakeBatch(3, 6).step(np.array([1, 1]))


def test_unknown_reward_preset_is_refused() -> None:
    for make in (lambda: SnakeEnv(6, reward="greedy"), lambda: SnakeBatch(1, 6, reward="greedy")):
        with pytest.raises(ValueError, match="'greedy'.*default"):
            make()


def test_bad_render_mode_and_starve_steps_are_refused() -> None:
    with pytest.raises(ValueError, match="'human'"):
        SnakeEnv(6, render_mode="human")
    with pytest.raises(ValueError, match="not 0"):
        SnakeBatch(1, 6, starve_steps=0)


# ----- Gymnasium contract and rendering ------------------------------------------------------------------------
@pytest.mark.parametrize("render_mode", [None, "ansi", "rgb_array"])
def test_gymnasium_env_checker_passes(render_mode: str | None) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the checker warns that an env built without gymnasium.make has no spec
        check_env(SnakeEnv(6, render_mode=render_mode))


def test_gymnasium_makes_the_game_by_name_once_env_is_imported_and_its_checker_passes() -> None:
    import gymnasium

    import env as face

    made = gymnasium.make("SnakeMC-v0", grid_size=10)
    assert face.ENV_ID == "SnakeMC-v0" and made.spec is not None and made.spec.id == "SnakeMC-v0"
    assert isinstance(made.unwrapped, SnakeEnv) and made.unwrapped.grid_size == 10
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # made by name it has a spec: the checker has nothing to warn about
        check_env(made.unwrapped)
        env.register_env()  # a second registration (a second import of the module) changes nothing, silently
    assert gymnasium.spec("SnakeMC-v0").entry_point == "snake_mc.game.rules:SnakeEnv"


def test_importing_env_alone_registers_the_game_in_a_fresh_interpreter() -> None:
    import subprocess
    import sys
    from pathlib import Path

    code = ("import gymnasium, env\ne = gymnasium.make('SnakeMC-v0', grid_size=7)\n"
            "print(e.unwrapped.grid_size, e.reset(seed=1)[0].shape)")
    out = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[1], capture_output=True,
                         text=True, timeout=120)  # fmt: skip
    assert out.returncode == 0 and out.stdout.split() == ["7", "(7,", "7)"], out.stderr


def test_ansi_render_is_g_lines_of_g_characters() -> None:
    e = SnakeEnv(7, render_mode="ansi")
    e.reset(seed=1)
    lines = e.render().split("\n")
    assert len(lines) == 7 and all(len(line) == 7 for line in lines)
    text = "".join(lines)
    assert text.count("@") == 1 and text.count("o") == 2 and text.count("*") == 1
    assert lines[3][3] == "@" and lines[3][1:3] == "oo"


def test_rgb_render_is_a_uint8_image() -> None:
    e = SnakeEnv(7, render_mode="rgb_array", cell_pixels=5)
    e.reset(seed=1)
    img = e.render()
    assert img.dtype == np.uint8 and img.shape == (35, 35, 3)
    assert not np.array_equal(img[17, 17], img[0, 0])  # head cell is drawn differently from empty


def test_no_render_mode_renders_nothing() -> None:
    e = SnakeEnv(5)
    e.reset(seed=0)
    assert e.render() is None


def test_move_targets_name_the_cell_each_relative_move_enters_and_whether_it_is_safe():
    # Heading up in the top-left corner: left leaves the board, straight leaves the board, right is free.
    game = SnakeEnv.from_state(6, [(0, 0), (1, 0), (2, 0)], "up", (4, 4)).game
    cell, inside, safe = game.move_targets()
    assert inside[0].tolist() == [False, False, True] and safe[0].tolist() == [False, False, True]
    assert cell[0, 2] == 0 * 6 + 1
    # The tail's cell counts as safe: it leaves on this move.
    loop = SnakeEnv.from_state(6, [(2, 2), (2, 3), (3, 3), (3, 2)], "left", None).game
    _, _, safe = loop.move_targets()
    assert safe[0].tolist() == [True, True, True]  # left = down onto the tail (3, 2), straight (2, 1), right (1, 2)


def test_the_picture_tells_head_body_tail_and_food_apart_and_shows_the_path() -> None:
    """A sighted viewer of a late game must see where the snake runs: head, tail, body and food in their own colours,
    and two body cells side by side joined only when one follows the other."""
    # Head (1, 1) heading up; the body runs down column 1, right along row 3 and back up column 2: (2, 2) sits beside
    # (2, 1) without following it, so no bridge may join them.
    body = [(1, 1), (2, 1), (3, 1), (3, 2), (2, 2)]
    env = SnakeEnv.from_state(6, body, "up", (5, 5))
    env.render_mode, cell = "rgb_array", env.cell_pixels
    img = env.render()
    centre = {p: tuple(img[p[0] * cell + cell // 2, p[1] * cell + cell // 2]) for p in body + [(5, 5), (0, 0)]}
    head, tail, food, empty = centre[(1, 1)], centre[(2, 2)], centre[(5, 5)], centre[(0, 0)]
    middle = {centre[p] for p in body[1:-1]}
    assert len({head, tail, food, empty} | middle) == 4 + len(middle), "each part its own colour"
    between = lambda a, b: tuple(img[(a[0] + b[0]) * cell // 2 + cell // 2, (a[1] + b[1]) * cell // 2 + cell // 2])  # noqa: E731
    assert between((2, 1), (3, 1)) != empty, "consecutive body cells are joined"
    assert between((2, 1), (2, 2)) == empty, "neighbours that do not follow each other stay apart"
