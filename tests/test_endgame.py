"""The last cells of a board: the exact endgame search and the rule for two last cells apart."""

from __future__ import annotations

import numpy as np
import torch

from snake_mc.game.rules import SnakeEnv
from snake_mc.learn.network import build_policy
from snake_mc.search.detours import split_last_cells
from snake_mc.search.endgame import endgame_moves
from snake_mc.search.rollouts import monte_carlo_actions

# A 4 by 4 board with 14 cells of snake, head first, heading up from (2, 0) to (1, 0); the two free cells, (0, 0)
# holding the apple and (0, 1), touch.
BODY = [(1, 0), (2, 0), (3, 0), (3, 1), (2, 1), (1, 1), (1, 2), (0, 2), (0, 3), (1, 3), (2, 3), (3, 3), (3, 2), (2, 2)]


def _last_two_cells() -> SnakeEnv:
    return SnakeEnv.from_state(4, BODY, "up", (0, 0))


def test_the_endgame_search_finds_the_way_to_fill_the_board():
    env = _last_two_cells()
    for _ in range(4):
        game = env.game
        move = endgame_moves(game, np.array([[0.0, 0.0, 1.0]]))  # the "policy" would rather turn right
        if game.length[0] == 15:
            assert move[0] >= 0
        env.step(int(move[0]) if move[0] >= 0 else 1)
        if env.game.done[0]:
            break
    assert env.game.won[0], "the plan should eat both last apples and fill the board"


def test_the_search_fills_a_board_where_the_policy_alone_would_not_look():
    torch.manual_seed(0)
    policy = build_policy({"grid_size": 4, "hidden": 8})
    env = _last_two_cells()
    for move in range(6):
        found = monte_carlo_actions(env.game, policy, 2, 3, seed=move, tour=False)
        env.step(int(found.actions[0]))
        if env.game.done[0]:
            break
    assert env.game.won[0]


def test_no_plan_eats_when_the_last_cell_would_then_be_out_of_reach():
    # The head's only move is onto the apple, but the other free cell, (1, 2), does not touch it: after eating, no
    # move would be left (a body of 15 cells cannot have its head beside its tail), so there is no plan.
    body = [(1, 0), (2, 0), (3, 0), (3, 1), (2, 1), (1, 1), (0, 1), (0, 2), (0, 3), (1, 3), (2, 3), (3, 3), (3, 2), (2, 2)]
    game = SnakeEnv.from_state(4, body, "up", (0, 0)).game
    assert split_last_cells(game)[0]
    assert endgame_moves(game, np.zeros((1, 3)))[0] == -1


def test_two_last_cells_that_touch_are_not_split():
    assert not split_last_cells(_last_two_cells().game)[0]


def test_a_detour_plan_is_followed_only_while_the_game_keeps_to_it():
    from snake_mc.search.detours import PlanBook

    def game() -> SnakeEnv:
        return SnakeEnv.from_state(10, [(5, 5), (6, 5), (7, 5)], "up", (0, 9))

    book = PlanBook()
    env = game()
    book.keep(env.game, 0, np.array([1, 2, 1]))  # made now: straight, then right, then straight
    env.step(1)
    assert book.follow(env.game, 0) == 2  # the head is where the plan put it
    env.step(2)
    assert PlanBook().follow(env.game, 0) == -1  # another book (another stream of searches) never follows it
    env = game()
    book.keep(env.game, 0, np.array([1, 2, 1]))
    env.step(0)  # the game turned left instead: the plan no longer holds
    assert book.follow(env.game, 0) == -1
    env = game()
    book.keep(env.game, 0, np.array([1, 2, 1]))
    env.step(1)
    env.step(2)  # a move it did not ask about: the plan is dropped
    assert book.follow(env.game, 0) == -1
