"""policy.py: the egocentric encoder and its mirror, batched acting, and checkpoints that refuse every bad file."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from snake_mc.game.cycle_proof import PROOF_FACTS
from snake_mc.game.observation import (
    ENCODER_NAME,
    FEATURES_PER_MOVE,
    MIRROR_ACTIONS,
    NUM_MOVE_FEATURES,
    NUM_TOUR_FEATURES,
    encode,
    move_features,
    obs_size,
)
from snake_mc.game.rules import DIRECTIONS, SnakeBatch, SnakeEnv
from snake_mc.game.tour import tour_index
from snake_mc.learn.network import CheckpointError, SnakePolicy, load_policy, save_policy

G = 6
# A bent body and off-axis food, so no rotation or mirror of the position looks like the position itself.
BODY = [(2, 3), (2, 2), (3, 2), (4, 2), (4, 1)]
FOOD = (0, 4)


def rotate_cell(cell: tuple[int, int], g: int) -> tuple[int, int]:
    """A quarter turn clockwise of the whole board."""
    r, c = cell
    return c, g - 1 - r


def mirror_cell(cell: tuple[int, int], g: int) -> tuple[int, int]:
    r, c = cell
    return r, g - 1 - c


MIRROR_DIRECTION = {"up": "up", "down": "down", "left": "right", "right": "left"}


def position(body, direction, food, g=G) -> SnakeBatch:
    return SnakeEnv.from_state(g, body, direction, food).game


def random_positions(n: int = 64, g: int = G, seed: int = 0) -> SnakeBatch:
    """Positions reached by random play (only games still running)."""
    rng = np.random.default_rng(seed)
    batch = SnakeBatch(n, g, seeds=np.arange(n) + seed)
    for _ in range(rng.integers(3, 8)):
        batch.step(rng.integers(0, 3, n))
    alive = np.flatnonzero(~batch.done)
    assert len(alive) > 5
    return batch.take(alive)


def tiny_policy(seed: int = 0, g: int = G, hidden: int = 16) -> SnakePolicy:
    torch.manual_seed(seed)
    return SnakePolicy(grid_size=g, hidden=hidden, layers=2).eval()


# ----- encoder -------------------------------------------------------------------------------------------------
def test_encoding_has_three_planes_two_scalars_and_move_features_per_game() -> None:
    batch = random_positions()
    x = encode(batch)
    assert x.dtype == np.float32
    width = 3 * G * G + 2 + NUM_MOVE_FEATURES + NUM_TOUR_FEATURES + PROOF_FACTS
    assert x.shape == (len(batch), width) == (len(batch), obs_size(G))
    assert (x[:, G * G : 2 * G * G].sum(axis=1) == 1).all(), "exactly one head cell per game"


# Offsets inside one move's block of move_features (left block first, then straight, then right; food last).
DIES, FOOD_MOVES, ON_FOOD_PATH, ESCAPES, MOVES_TO_BODY, AREA, SAFE_TO_EAT = range(FEATURES_PER_MOVE)
LEFT, STRAIGHT, RIGHT = (FEATURES_PER_MOVE * a for a in range(3))
AHEAD, TO_RIGHT = 3 * FEATURES_PER_MOVE, 3 * FEATURES_PER_MOVE + 1


def test_move_features_flag_deadly_moves_food_distance_and_escape():
    # Head at (0, 1) heading left; turning left (down) hits the body, right (up) leaves the board, straight is open.
    game = SnakeEnv.from_state(G, [(0, 1), (0, 2), (1, 2), (1, 1), (1, 0)], "left", (G - 1, G - 1)).game
    f = move_features(game)[0]
    assert f[LEFT + DIES] == 1 and f[STRAIGHT + DIES] == 0 and f[RIGHT + DIES] == 1
    assert f[STRAIGHT + FOOD_MOVES] == pytest.approx(11 / G**2), "(0, 0) then ten moves to the far corner"
    assert f[STRAIGHT + ON_FOOD_PATH] == 1 and f[LEFT + ON_FOOD_PATH] == 0 and f[LEFT + FOOD_MOVES] == 1
    # The tail's cell (1, 0) frees at once but is no longer body; (1, 1), body after the move, frees in time for move 3.
    assert f[STRAIGHT + ESCAPES] == 1 and f[STRAIGHT + MOVES_TO_BODY] == pytest.approx(3 / G**2)
    assert f[STRAIGHT + AREA] == 1.0 and f[STRAIGHT + SAFE_TO_EAT] == 1 and f[LEFT + SAFE_TO_EAT] == 0
    assert f[AHEAD] == pytest.approx(-(G - 2) / G) and f[TO_RIGHT] == pytest.approx(-(G - 1) / G)  # behind, to the left


def test_move_features_see_a_dead_end_pocket():
    # Turning left enters the corner: one cell, walled in by the body until long after the snake would need it.
    pocket = SnakeEnv.from_state(G, [(0, 1), (1, 1), (1, 0), (2, 0), (3, 0)], "up", None).game
    f = move_features(pocket)[0]
    assert f[LEFT + DIES] == 0 and f[LEFT + ESCAPES] == 0 and f[LEFT + AREA] == pytest.approx(1 / (G * G - 4))
    assert f[STRAIGHT + DIES] == 1
    assert f[RIGHT + ESCAPES] == 1 and f[RIGHT + AREA] == 1 and f[RIGHT + MOVES_TO_BODY] > f[LEFT + MOVES_TO_BODY]
    assert f[LEFT + FOOD_MOVES] == f[RIGHT + FOOD_MOVES] == 1 and f[AHEAD] == f[TO_RIGHT] == 0, "no food on the board"


def reference_move_features(game: SnakeBatch, i: int) -> np.ndarray:
    """The per-move features of game i worked out the slow, plain way: a Python breadth-first search per question."""
    g = game.grid_size
    ttl = game.ttl()[i].reshape(g, g)
    length, food = int(game.length[i]), int(game.food[i])
    food_cell = divmod(food, g) if food >= 0 else None
    steps = [(-1, 0), (0, 1), (1, 0), (0, -1)]  # up, right, down, left: the env's headings

    def search(board, start, first_move, want_food, body_from):
        """Moves to the food, moves to a cell of the body (time-to-live >= body_from), cells reached."""
        dist = {start: first_move}
        frontier, food_moves, body_moves = [start], None, None
        if want_food and start == food_cell:
            food_moves = first_move
        while frontier and (body_moves is None or (want_food and food_moves is None)):
            nxt = []
            for r, c in frontier:
                for dr, dc in steps:
                    cell = (r + dr, c + dc)
                    moves = dist[(r, c)] + 1
                    if not (0 <= cell[0] < g and 0 <= cell[1] < g) or cell in dist or board[cell] > moves:
                        continue
                    dist[cell] = moves
                    nxt.append(cell)
                    if want_food and cell == food_cell and food_moves is None:
                        food_moves = moves
                    if board[cell] >= body_from and body_moves is None:
                        body_moves = moves
            frontier = nxt
        return food_moves, body_moves, len(dist), dist

    d = int(game.direction[i])
    head = (int(game.head_r[i]), int(game.head_c[i]))
    free_count = int((ttl <= 1).sum())
    out = np.zeros(NUM_MOVE_FEATURES, dtype=np.float32)
    found = {}
    for a in range(3):
        dr, dc = steps[(d + a + 3) % 4]
        cell = (head[0] + dr, head[1] + dc)
        k = FEATURES_PER_MOVE * a
        if not (0 <= cell[0] < g and 0 <= cell[1] < g) or ttl[cell] > 1:
            out[k] = out[k + 1] = 1.0
            continue
        food_moves, body_moves, reached, dist = search(ttl, cell, 1, food_cell is not None, 2)
        found[a] = (food_moves, dist)
        out[k + 1] = 1.0 if food_moves is None else food_moves / g**2
        out[k + 3] = body_moves is not None
        out[k + 4] = 0.0 if body_moves is None else body_moves / g**2
        out[k + 5] = 1.0 if body_moves is not None else reached / free_count
    lengths = [m for m, _ in found.values() if m is not None]
    for a, (food_moves, dist) in found.items():
        if not lengths or food_moves != min(lengths):
            continue
        k = FEATURES_PER_MOVE * a
        out[k + 2] = 1.0
        path = [food_cell]  # walked back: ahead, right, back, left of the heading, the first one a move nearer
        for m in range(food_moves - 1, 0, -1):
            r, c = path[-1]
            path.append(next((r + steps[(d + j) % 4][0], c + steps[(d + j) % 4][1]) for j in range(4)
                             if dist.get((r + steps[(d + j) % 4][0], c + steps[(d + j) % 4][1]), -1) == m))
        eaten = np.maximum(ttl - food_moves + 1, 0)
        for m, cell in enumerate(reversed(path), start=1):
            eaten[cell] = max(length + 1 - food_moves + m, 0)
        out[k + 6] = length + 1 >= g**2 or search(eaten, food_cell, 0, False, 1)[1] is not None
    if food_cell is not None:
        dr, dc = food_cell[0] - head[0], food_cell[1] - head[1]
        out[-2] = (dr * steps[d][0] + dc * steps[d][1]) / g
        out[-1] = (dr * steps[(d + 1) % 4][0] + dc * steps[(d + 1) % 4][1]) / g
    return out


def shared_ttl(states: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The same positions with one body cell given its neighbour's time-to-live: never seen in play, but the encoder
    builds its free-by-move sets a faster way that assumes distinct ones, and must notice when they are not."""
    ttl = states["ttl"].copy()
    for board in ttl:
        mid = np.flatnonzero(board.ravel() == 3)
        board.ravel()[mid] = 2
    return {**states, "ttl": ttl}


def test_move_features_agree_with_a_plain_reference_on_long_snakes_and_random_play() -> None:
    long8 = scripted_states(8)
    cases = {
        "8 by 8 (one 64-bit word a set)": SnakeBatch.from_states(long8),
        "7 by 7 random play": random_positions(40, g=7, seed=3),
        "11 by 11 (two words)": SnakeBatch.from_states(scripted_states(11, games=2)),
        "12 by 12 (three words, the general searches)": SnakeBatch.from_states(scripted_states(12, games=2)),
        "8 by 8 with a shared time-to-live": SnakeBatch.from_states(shared_ttl(long8)),
        "12 by 12 random play, shared time-to-live": SnakeBatch.from_states(
            shared_ttl(random_positions(30, g=12, seed=5).export_states())
        ),
    }
    for name, batch in cases.items():
        got = move_features(batch)
        for i in range(batch.num_games):
            np.testing.assert_allclose(got[i], reference_move_features(batch, i), rtol=1e-6, err_msg=f"{name}, game {i}")


def reference_tour_features(game: SnakeBatch, i: int) -> np.ndarray:
    """The tour block of game i worked out the plain way: the body listed tail first, each cell's place on the tour."""
    g = game.grid_size
    out = np.zeros(NUM_TOUR_FEATURES, dtype=np.float32)
    index = tour_index(g)
    if index is None:
        return out
    n = g * g
    ttl = game.ttl()[i]
    head = int(game.head_r[i]) * g + int(game.head_c[i])
    ahead = [(int(index[c]) - int(index[head])) % n for c in range(n)]
    body = sorted((int(ttl[c]), c) for c in range(n) if ttl[c] > 0)[:-1]  # tail first, the head left out
    places = [ahead[c] for _, c in body]
    ordered = all(a < b for a, b in zip(places, places[1:])) and (not places or places[0] > 0)
    to_tail = places[0] if places else n
    food = int(game.food[i])
    to_food = ahead[food] if food >= 0 else n
    d = int(game.direction[i])
    steps = [(-1, 0), (0, 1), (1, 0), (0, -1)]
    for a in range(3):
        dr, dc = steps[(d + a + 3) % 4]
        r, c = int(game.head_r[i]) + dr, int(game.head_c[i]) + dc
        if not (0 <= r < g and 0 <= c < g) or ttl[r * g + c] > 1:
            continue
        step = ahead[r * g + c]
        keeps, short = ordered and 0 < step <= to_tail, step <= to_food
        out[3 * a : 3 * a + 3] = [keeps, short, step / n]
    out[9:] = [ordered, to_food / n, to_tail / n]
    return out


def test_tour_features_agree_with_a_plain_reference_and_are_zero_without_a_tour() -> None:
    cases = {
        "8 by 8, the tour player's games (in tour order)": SnakeBatch.from_states(scripted_states(8)),
        "10 by 10 random play (mostly out of order)": random_positions(40, g=10, seed=4),
        "12 by 12 random play": random_positions(30, g=12, seed=6),
        "7 by 7 (no tour on an odd board)": random_positions(30, g=7, seed=2),
    }
    for name, batch in cases.items():
        got = encode(batch)[:, -NUM_TOUR_FEATURES - PROOF_FACTS : -PROOF_FACTS]
        for i in range(batch.num_games):
            np.testing.assert_allclose(got[i], reference_tour_features(batch, i), rtol=1e-6, err_msg=f"{name}, game {i}")
    assert not encode(cases["7 by 7 (no tour on an odd board)"])[:, -NUM_TOUR_FEATURES - PROOF_FACTS : -PROOF_FACTS].any()


def test_the_teachers_move_is_read_from_facts_but_no_input_is_the_teachers_choice() -> None:
    """The teacher (scripted.record_scripted) takes, among the moves the proof facts prove safe, the one whose proof
    reaches the food soonest: the network can learn that rule from its inputs (the facts as played, recorded with
    each position, the kept proof included), yet no input is the choice itself: the network must learn it, it cannot
    copy it (issue 24). Every move the teacher shows is one its inputs show proven."""
    from snake_mc.game.scripted import record_scripted
    from snake_mc.speech.narrate import Narrator

    data = record_scripted(4, grid_size=8, seed=5, narrator=Narrator(quiet=True))
    batch = SnakeBatch.from_states(data)
    for mirror in (False, True):
        x = encode(batch, mirror=mirror, proofs=data["proofs"][:, int(mirror)])
        proven, to_food = x[:, -PROOF_FACTS:-3] > 0, x[:, -3:]
        nearest = np.where(proven, to_food, 2.0).argmin(axis=1)
        expected = MIRROR_ACTIONS[data["actions"]] if mirror else data["actions"]
        shown = proven[np.arange(len(expected)), expected]
        # The teacher reads the plain facts; the mirror's own search breaks ties its way (measured: 1 of 1,762).
        assert shown.all() if not mirror else shown.mean() > 0.99, "the teacher leaves its inputs' proofs"
        assert (nearest == expected).mean() > (0.999 if not mirror else 0.9)
        chosen = np.eye(3, dtype=bool)[expected]
        for stride in range(1, 9):  # any per-move layout (the move block has 7 a move, the tour block 3)
            for column in range(x.shape[1] - 2 * stride):  # no input is 1 at the chosen move and 0 at the others
                per_move = [column, column + stride, column + 2 * stride]
                assert not np.array_equal(x[:, per_move] > 0.5, chosen), f"input {column} is the teacher's choice"


def test_food_in_a_corner_the_body_walls_in_is_not_safe_to_eat():
    # Heading up at (0, 2), food two moves away in the corner (0, 0). Eating there leaves the head between its neck
    # and body cells that free too late: trapped. Not eating (just turning left) still reaches the body in time.
    game = SnakeEnv.from_state(G, [(0, 2), (1, 2), (1, 1), (1, 0), (2, 0), (3, 0)], "up", (0, 0)).game
    f = move_features(game)[0]
    assert f[LEFT + FOOD_MOVES] == pytest.approx(2 / G**2) and f[LEFT + ON_FOOD_PATH] == 1
    assert f[LEFT + SAFE_TO_EAT] == 0 and f[LEFT + ESCAPES] == 1
    assert f[RIGHT + ON_FOOD_PATH] == 0 and f[RIGHT + SAFE_TO_EAT] == 0, "right is a longer way to the food"


def test_food_distance_counts_moves_around_the_body_and_marks_the_shortest_way():
    # Head (3, 3) heading up, food three cells to its left: left is 3 moves, straight 5, right 7 (the head's own
    # cell stays blocked for 3 moves, so the right turn must go round it).
    game = SnakeEnv.from_state(G, [(3, 3), (4, 3), (5, 3)], "up", (3, 0)).game
    f = move_features(game)[0]
    moves = [f[block + FOOD_MOVES] * G**2 for block in (LEFT, STRAIGHT, RIGHT)]
    assert moves == pytest.approx([3, 5, 7])
    assert [f[block + ON_FOOD_PATH] for block in (LEFT, STRAIGHT, RIGHT)] == [1, 0, 0]


def board_view(batch: SnakeBatch, mirror: bool = False) -> np.ndarray:
    """The encoding without its tour block. The tour is fixed on the board (its cells do not turn with the snake), so
    only what the board shows and the proofs (searched on the turned view) are the same for a position turned or
    mirrored; the tour block has its own tests."""
    x = encode(batch, mirror=mirror)
    return np.concatenate([x[:, : -NUM_TOUR_FEATURES - PROOF_FACTS], x[:, -PROOF_FACTS:]], axis=1)


def test_the_same_position_turned_to_each_heading_encodes_identically() -> None:
    body, heading, food = BODY, "up", FOOD
    codes = []
    for _ in range(4):
        codes.append(board_view(position(body, heading, food)))
        body = [rotate_cell(cell, G) for cell in body]
        food = rotate_cell(food, G)
        heading = DIRECTIONS[(DIRECTIONS.index(heading) + 1) % 4]
    for code in codes[1:]:
        np.testing.assert_array_equal(code, codes[0])
    assert not np.array_equal(board_view(position(BODY, "up", FOOD)), board_view(position(BODY, "up", (0, 0))))


def test_rotated_random_positions_encode_identically() -> None:
    """The same check on many positions at once, rotating exported states."""
    batch = random_positions()
    states = batch.export_states()
    g = G
    r, c = states["head"][:, 0].astype(int), states["head"][:, 1].astype(int)
    fr, fc = states["food"] // g, states["food"] % g
    turned = {
        "ttl": np.rot90(states["ttl"], k=-1, axes=(1, 2)).copy(),  # clockwise: (r, c) -> (c, g-1-r)
        "head": np.stack([c, g - 1 - r], axis=1),
        "direction": (states["direction"] + 1) % 4,
        "food": np.where(states["food"] >= 0, fc * g + (g - 1 - fr), -1),
        "since_food": states["since_food"],
    }
    np.testing.assert_array_equal(board_view(SnakeBatch.from_states(turned)), board_view(SnakeBatch.from_states(states)))


def scripted_states(g: int = 8, games: int = 6) -> dict[str, np.ndarray]:
    """Long snakes in tight spots, where shortest paths tie and the path walked to the food must not depend on which
    way the board happens to be turned."""
    from snake_mc.game.scripted import record_scripted
    from snake_mc.speech.narrate import Narrator

    data = record_scripted(games, grid_size=g, seed=3, narrator=Narrator(quiet=True))
    return {key: data[key][::7] for key in ("ttl", "head", "direction", "food", "since_food")}


def turned(states: dict[str, np.ndarray], g: int) -> dict[str, np.ndarray]:
    r, c = states["head"][:, 0].astype(int), states["head"][:, 1].astype(int)
    fr, fc = states["food"] // g, states["food"] % g
    return {
        "ttl": np.rot90(states["ttl"], k=-1, axes=(1, 2)).copy(),  # clockwise: (r, c) -> (c, g-1-r)
        "head": np.stack([c, g - 1 - r], axis=1),
        "direction": (states["direction"] + 1) % 4,
        "food": np.where(states["food"] >= 0, fc * g + (g - 1 - fr), -1),
        "since_food": states["since_food"],
    }


def mirrored(states: dict[str, np.ndarray], g: int) -> dict[str, np.ndarray]:
    r, c = states["head"][:, 0].astype(int), states["head"][:, 1].astype(int)
    fr, fc = states["food"] // g, states["food"] % g
    return {
        "ttl": states["ttl"][:, :, ::-1].copy(),
        "head": np.stack([r, g - 1 - c], axis=1),
        "direction": np.array([0, 3, 2, 1])[states["direction"]],  # right <-> left
        "food": np.where(states["food"] >= 0, fr * g + (g - 1 - fc), -1),
        "since_food": states["since_food"],
    }


def test_long_snakes_encode_alike_turned_and_mirrored() -> None:
    g = 8
    states = scripted_states(g)
    assert states["ttl"].max() > 20, "long snakes, so that the searches run into the body"
    plain = board_view(SnakeBatch.from_states(states))
    np.testing.assert_array_equal(board_view(SnakeBatch.from_states(turned(states, g))), plain)
    np.testing.assert_array_equal(board_view(SnakeBatch.from_states(mirrored(states, g)), mirror=True), plain)


def test_mirror_image_positions_encode_to_each_others_mirror() -> None:
    original = position(BODY, "up", FOOD)
    image = position([mirror_cell(cell, G) for cell in BODY], MIRROR_DIRECTION["up"], mirror_cell(FOOD, G))
    np.testing.assert_array_equal(board_view(image, mirror=True), board_view(original))  # mirror of the mirror is the original
    np.testing.assert_array_equal(board_view(image), board_view(original, mirror=True))
    assert not np.array_equal(board_view(original), board_view(original, mirror=True))


@pytest.mark.parametrize("heading", DIRECTIONS)
@pytest.mark.parametrize("action", [0, 1, 2])
def test_a_move_and_its_mirrored_move_lead_to_mirror_images(heading: str, action: int) -> None:
    """Why actions 0 and 2 swap under the mirror: turning left in a position is turning right in its mirror image."""
    back = {"up": (1, 0), "down": (-1, 0), "left": (0, 1), "right": (0, -1)}[heading]
    body = [(3 + k * back[0], 3 + k * back[1]) for k in range(3)]  # head at (3, 3), neck behind it
    food = (0, 0)
    env = SnakeEnv.from_state(G, body, heading, food)
    image = SnakeEnv.from_state(G, [mirror_cell(c, G) for c in body], MIRROR_DIRECTION[heading], mirror_cell(food, G))
    _, _, dead, _, _ = env.step(action)
    _, _, dead_image, _, _ = image.step(int(MIRROR_ACTIONS[action]))
    assert not dead and not dead_image
    np.testing.assert_array_equal(board_view(image.game, mirror=True), board_view(env.game))
    assert sorted(MIRROR_ACTIONS[MIRROR_ACTIONS]) == [0, 1, 2] and list(MIRROR_ACTIONS[MIRROR_ACTIONS]) == [0, 1, 2]


# ----- acting --------------------------------------------------------------------------------------------------
def test_greedy_act_is_deterministic_and_one_forward_pass_serves_the_batch() -> None:
    policy = tiny_policy()
    batch = random_positions(200)
    calls: list[int] = []
    handle = policy.register_forward_hook(lambda module, args, out: calls.append(args[0].shape[0]))
    first = policy.act(batch, greedy=True)
    assert calls == [len(batch)], "one network call for the whole batch"
    second = policy.act(batch, greedy=True)
    handle.remove()
    assert first.shape == (len(batch),)
    np.testing.assert_array_equal(first, second)
    logits, values = policy.evaluate_batch(batch)
    np.testing.assert_array_equal(first, logits.argmax(axis=1))
    assert values.shape == (len(batch),)


def test_sampled_actions_repeat_with_the_same_generator() -> None:
    policy = tiny_policy()
    batch = random_positions(200)
    a = policy.act(batch, greedy=False, temperature=1.0, rng=np.random.default_rng(5))
    b = policy.act(batch, greedy=False, temperature=1.0, rng=np.random.default_rng(5))
    np.testing.assert_array_equal(a, b)
    assert set(np.unique(a)) <= {0, 1, 2}


# ----- checkpoints ---------------------------------------------------------------------------------------------
@pytest.fixture()
def checkpoint(tmp_path: Path) -> Path:
    path = tmp_path / "policy.pt"
    save_policy(tiny_policy(3), path, iteration=4, eval={"mean_score": 2.5}, source="scripted")
    return path


def test_checkpoint_round_trip_keeps_outputs_and_meta(checkpoint: Path) -> None:
    original = tiny_policy(3)
    loaded = load_policy(checkpoint, grid_size=G)
    batch = random_positions()
    for a, b in zip(original.evaluate_batch(batch), loaded.evaluate_batch(batch)):
        np.testing.assert_array_equal(a, b)
    assert loaded.model_config == original.model_config
    assert loaded.meta["iteration"] == 4
    assert loaded.meta["eval"] == {"mean_score": 2.5}
    assert loaded.meta["source"] == "scripted"
    assert loaded.meta["grid_size"] == G
    assert not list(checkpoint.parent.glob(".*tmp")), "no temporary file left beside the checkpoint"


def assert_refused(path: Path, **kwargs) -> CheckpointError:
    with pytest.raises(CheckpointError) as info:
        load_policy(path, **kwargs)
    assert str(path) in str(info.value), "the error names the file"
    return info.value


def test_missing_checkpoint_is_refused(tmp_path: Path) -> None:
    assert_refused(tmp_path / "nowhere.pt")


def test_truncated_checkpoint_is_refused(checkpoint: Path) -> None:
    data = checkpoint.read_bytes()
    checkpoint.write_bytes(data[: len(data) // 2])
    assert_refused(checkpoint)


def test_text_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.pt"
    path.write_text("this is not a checkpoint\n")
    assert_refused(path)


def test_saved_plain_list_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "list.pt"
    torch.save([1, 2, 3], path)
    assert "not a snake-mc checkpoint" in str(assert_refused(path))


def test_checkpoint_for_another_grid_is_refused(checkpoint: Path) -> None:
    message = str(assert_refused(checkpoint, grid_size=G + 2))
    assert f"{G} by {G}" in message and f"{G + 2} by {G + 2}" in message


def test_checkpoint_of_an_older_encoder_is_refused_with_the_fix(checkpoint: Path, tmp_path: Path) -> None:
    old = torch.load(checkpoint, weights_only=True)
    old["model_config"]["encoder"] = "ego-board-v2"
    path = tmp_path / "old.pt"
    torch.save(old, path)
    message = str(assert_refused(path))
    assert "ego-board-v2" in message and ENCODER_NAME in message and "train it again" in message


def test_weights_that_do_not_fit_their_architecture_are_refused(tmp_path: Path) -> None:
    small = tiny_policy(hidden=16)
    path = tmp_path / "mismatch.pt"
    torch.save(
        {
            "format_version": 1,
            "grid_size": G,
            "model_config": {**small.model_config, "hidden": 32},
            "state_dict": small.state_dict(),
            "iteration": 0,
            "eval": {},
            "created": "today",
        },
        path,
    )
    assert "does not fit" in str(assert_refused(path))


class _WritesMarker:
    """Unpickling this would create a file: the test of a loader that must never run code from a checkpoint."""

    def __init__(self, marker: Path, shell: bool) -> None:
        self.marker, self.shell = marker, shell

    def __reduce__(self):  # noqa: ANN204 - pickle protocol
        if self.shell:
            return os.system, (f"touch '{self.marker}'",)
        return open, (str(self.marker), "w")


@pytest.mark.parametrize("shell", [False, True], ids=["open", "os.system"])
@pytest.mark.parametrize("writer", ["pickle", "torch.save"])
def test_malicious_pickle_is_refused_and_never_runs(tmp_path: Path, writer: str, shell: bool) -> None:
    marker = tmp_path / "pwned"
    payload = {"format_version": 1, "model_config": {"grid_size": G}, "state_dict": _WritesMarker(marker, shell)}
    path = tmp_path / "evil.pt"
    if writer == "pickle":
        with open(path, "wb") as handle:
            pickle.dump(payload, handle)
    else:
        torch.save(payload, path)
    assert not marker.exists()
    refused = assert_refused(path)
    assert "holds code" in str(refused), "the refusal says why: code, not a PyTorch version problem"
    assert not marker.exists(), "loading the checkpoint ran code from it"


# ----- crafted datasets never reach the compiled encoder ----------------------------------------------------------
@pytest.mark.parametrize(
    ("key", "value"),
    [("head", 500), ("direction", 9), ("food", 10_000), ("ttl", 30_000), ("since_food", -5), ("head", -1)],
)
def test_a_dataset_with_out_of_range_values_is_refused_before_encoding(tmp_path, key, value):
    from snake_mc.game import datasets
    from snake_mc.game.scripted import record_scripted

    data = record_scripted(2, grid_size=6, seed=0)
    data[key] = data[key].copy()
    data[key].reshape(-1)[0] = value
    path = tmp_path / "crafted.npz"
    np.savez(path, **data)
    with pytest.raises(datasets.DatasetError, match="crafted.npz"):
        datasets.load_dataset(path)


def test_a_dataset_of_floats_is_refused(tmp_path):
    from snake_mc.game import datasets
    from snake_mc.game.scripted import record_scripted

    data = record_scripted(2, grid_size=6, seed=0)
    data["head"] = data["head"].astype(np.float32)
    np.savez(tmp_path / "floats.npz", **data)
    with pytest.raises(datasets.DatasetError, match="whole numbers"):
        datasets.load_dataset(tmp_path / "floats.npz")


def test_a_checkpoint_with_nan_weights_is_refused_in_a_sentence(tmp_path):
    policy = SnakePolicy(G, hidden=8, layers=1)
    with torch.no_grad():
        policy.policy_head.weight[0, 0] = float("nan")
    save_policy(policy, tmp_path / "nan.pt")
    with pytest.raises(CheckpointError, match="not finite"):
        load_policy(tmp_path / "nan.pt")


def test_a_checkpoint_naming_an_impossible_network_is_refused_before_building_it(tmp_path):
    policy = SnakePolicy(G, hidden=8, layers=1)
    save_policy(policy, tmp_path / "big.pt")
    checkpoint = torch.load(tmp_path / "big.pt", weights_only=True)
    checkpoint["model_config"]["hidden"] = 10**7
    torch.save(checkpoint, tmp_path / "big.pt")
    with pytest.raises(CheckpointError, match="impossible size"):
        load_policy(tmp_path / "big.pt")
    checkpoint["model_config"] = "not a dict"
    torch.save(checkpoint, tmp_path / "big.pt")
    with pytest.raises(CheckpointError, match="not a snake-mc checkpoint"):
        load_policy(tmp_path / "big.pt")


# ----- crafted checkpoints are refused before anything large is built or read (issue 21, items 7 and 12) ------------
def _crafted(tmp_path: Path, name: str = "crafted.pt", **config) -> Path:
    """A small, valid checkpoint whose model_config is changed to `config` (its tensors stay small)."""
    path = tmp_path / name
    save_policy(SnakePolicy(G, hidden=8, layers=1), path)
    checkpoint = torch.load(path, weights_only=True)
    checkpoint["model_config"].update(config)
    torch.save(checkpoint, path)
    return path


@pytest.fixture()
def nothing_built(monkeypatch):
    """Once called, building any network fails the test: a crafted checkpoint must be refused before it is built."""

    def refuse(*args, **kwargs):
        pytest.fail("a network was built from a crafted checkpoint")  # BaseException: no loader swallows it

    return lambda: monkeypatch.setattr("snake_mc.learn.network.SnakePolicy.__init__", refuse)


@pytest.mark.parametrize(("hidden", "layers"), [(4096, 4096), (4096, 2), (2000, 3)])
def test_a_checkpoint_naming_a_huge_or_mismatched_network_is_refused_before_building_it(tmp_path, nothing_built,
                                                                                         hidden, layers):
    path = _crafted(tmp_path, hidden=hidden, layers=layers)
    nothing_built()
    message = str(assert_refused(path))
    assert "weights" in message or "does not fit" in message


def test_stored_tensors_of_the_wrong_shape_are_refused_before_building(tmp_path, nothing_built):
    path = _crafted(tmp_path)
    checkpoint = torch.load(path, weights_only=True)
    checkpoint["state_dict"]["body.0.weight"] = torch.zeros(3, 3)
    torch.save(checkpoint, path)
    nothing_built()
    assert "body.0.weight" in str(assert_refused(path))


@pytest.mark.parametrize("grid", ["abc", None, 10**9, 2, True, 7.5])
def test_a_checkpoint_with_a_bad_grid_size_is_refused_naming_the_file(tmp_path, grid):
    message = str(assert_refused(_crafted(tmp_path, grid_size=grid)))
    assert "board" in message and "damaged" in message


@pytest.mark.parametrize("content", [b"# snake-mc\n\nA readme, not a checkpoint.\n", b"\x00" * 4096, b""])
def test_a_file_that_is_not_a_checkpoint_is_called_so_not_code(tmp_path, content):
    path = tmp_path / "README.md"
    path.write_bytes(content)
    message = str(assert_refused(path))
    assert "not a checkpoint" in message and "code" not in message


def test_a_device_or_folder_is_refused_before_reading(tmp_path):
    for path in (Path("/dev/zero"), tmp_path):
        message = str(assert_refused(path))
        assert "not a regular file" in message


def test_an_unreasonably_large_file_is_refused_before_reading(tmp_path, monkeypatch):
    path = _crafted(tmp_path)
    monkeypatch.setattr("snake_mc.learn.network.MAX_CHECKPOINT_BYTES", 100)
    monkeypatch.setattr("snake_mc.learn.network.torch.load", lambda *a, **k: pytest.fail("a file far too large was read"))
    assert "MB" in str(assert_refused(path))


def test_the_driver_refuses_a_network_larger_than_a_checkpoint_may_hold():
    from snake_mc.run.config import ConfigError, make_config

    with pytest.raises(ConfigError, match="narrower or shallower"):
        make_config(["--policy-hidden", "4096", "--policy-layers", "64"])
    make_config(["--policy-hidden", "1024", "--policy-layers", "8"])
