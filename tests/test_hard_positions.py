"""hard_positions.py: the positions before the policy's losses, found and labelled by a deeper search."""

from __future__ import annotations

import numpy as np
import torch

from snake_mc.game import datasets
from snake_mc.game.rules import SnakeBatch
from snake_mc.learn.network import SnakePolicy
from snake_mc.search.hard_positions import HardPositionSettings, hard_positions, label_positions, play_and_keep_losses

G = 6


SHALLOW = HardPositionSettings(games=1, rewind=1, K=3, H=5, margin=0.0)


def weak_policy(seed: int = 0) -> SnakePolicy:
    torch.manual_seed(seed)
    return SnakePolicy(G, hidden=16, layers=1).eval()


def test_only_lost_games_are_kept_and_each_ends_one_move_before_its_loss():
    policy = weak_policy()
    settings = HardPositionSettings(games=12, rewind=5, K=5, H=100, margin=0.0)
    states, owner, summary = play_and_keep_losses(policy, settings, G, seed=3)
    assert summary["lost"] == 12 - round(summary["win_rate"] * 12) and summary["lost"] > 0
    assert len(np.unique(owner)) == summary["lost"]
    counts = np.bincount(owner, minlength=12)
    assert counts.max() <= 5
    # The last kept position of every lost game: the policy's own move from it ends the game, without a win.
    last = np.flatnonzero(np.r_[owner[1:] != owner[:-1], True])
    batch = SnakeBatch.from_states({k: v[last] for k, v in states.items()})
    batch.since_food = states["since_food"][last].astype(np.int32)
    batch.step(policy.act(batch, greedy=True))
    assert batch.done.all() and not batch.won.any()


def test_the_labels_form_a_valid_dataset_and_are_reproducible():
    policy = weak_policy(1)
    settings = HardPositionSettings(games=8, rewind=4, K=2, H=6, margin=0.0)
    a, stats = hard_positions(policy, settings, G, seed=11, threads=2)
    b, _ = hard_positions(policy, settings, G, seed=11, threads=1)
    datasets.validate_dataset(a, "hard positions", G)
    assert stats["positions"] == datasets.num_samples(a) > 0
    for key in (*datasets.STATE_KEYS, "actions", "action_values", "episode"):
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def test_the_search_label_avoids_a_move_that_dies_at_once():
    batch = SnakeBatch(1, G, seeds=[0])
    batch.step(np.array([0]))  # heading right, turn left: now heading up
    for _ in range(G):
        if batch.head_r[0] == 0:
            break
        batch.step(np.array([1]))
    assert batch.head_r[0] == 0 and not batch.done[0]
    # The head is at the top wall, heading up: straight (1) hits the wall.
    states = batch.export_states()
    data = label_positions(weak_policy(2), states, np.zeros(1, np.int64), SHALLOW, seed=0)
    assert data["actions"][0] != 1
    values = data["action_values"][0]  # measured, or NaN where a single proven-safe move left nothing to search
    assert values[1] < values.max() or np.isnan(values).all()
