"""tour.py: the board's tour is one cycle through every cell, and the tour player fills boards without a loss."""

from __future__ import annotations

import numpy as np
import pytest

from snake_mc.game.rules import SnakeBatch, SnakeEnv
from snake_mc.game.scripted import tour_moves
from snake_mc.game.tour import tour_index, tour_order_facts


@pytest.mark.parametrize("g", [4, 6, 10, 12])
def test_the_tour_visits_every_cell_once_and_each_step_is_to_a_neighbour(g):
    index = tour_index(g)
    assert sorted(index.tolist()) == list(range(g * g))
    cells = np.argsort(index)  # the cells in tour order
    for a, b in zip(cells, np.roll(cells, -1)):  # the last step closes the cycle
        (ra, ca), (rb, cb) = divmod(int(a), g), divmod(int(b), g)
        assert abs(ra - rb) + abs(ca - cb) == 1


@pytest.mark.parametrize("g", [5, 7, 9])
def test_an_odd_board_has_no_tour_and_the_rule_never_applies(g):
    assert tour_index(g) is None
    _, applies = tour_moves(SnakeBatch(3, g))
    assert not applies.any()


def test_a_fresh_snake_lies_in_tour_order():
    batch = SnakeBatch(2, 10)
    assert tour_order_facts(batch)[2].all()


def test_a_body_against_the_tour_is_out_of_order_and_the_rule_does_not_apply():
    # Tour on 6 by 6: row 0 runs one way; a snake heading the other way along it lies against the tour.
    index = tour_index(6)
    row0 = [0 * 6 + c for c in range(6)]
    forward = index[row0[1]] - index[row0[0]] in (1, -35)
    body = [(0, 1), (0, 2), (0, 3)] if forward else [(0, 3), (0, 2), (0, 1)]  # head first, moving against the tour
    heading = "left" if forward else "right"
    game = SnakeEnv.from_state(6, body, heading, (5, 5)).game
    assert not tour_order_facts(game)[2][0]
    assert not tour_moves(game)[1][0]


@pytest.mark.parametrize("g, games", [(6, 40), (10, 60)])
def test_the_tour_player_fills_every_board(g, games):
    """The reason it is the teacher: from a fresh game it never dies and never starves."""
    batch = SnakeBatch(games, g, seeds=np.arange(900, 900 + games))
    while not batch.done.all():
        actions, applies = tour_moves(batch)
        assert applies[~batch.done].all(), "the body left tour order"
        batch.step(actions)
    assert batch.won.all() and (batch.score == g * g - 3).all()
