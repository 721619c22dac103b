"""models/snake10.pt and its evidence, models/snake10.json: the card says what evaluate.py measures, on the report
seed set, and the shipped player is what the README promises."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CARD = ROOT / "models" / "snake10.json"
REPORT_SEED = 5_000_000_000  # the report seed set (README, "Three seed sets")


def card() -> dict:
    return json.loads(CARD.read_text(encoding="utf-8"))


def test_the_card_names_its_games_its_command_and_its_commit():
    c = card()
    assert c["made_by"].startswith("python iterative_train.py") and len(c["commit"]) == 40
    for part, games in (("alone", 1000), ("search", 200)):
        figures = c[part]
        assert figures["episodes"] == games and figures["seed"] >= REPORT_SEED, "quoted figures come from the report set"
        low, high = figures["win_rate_interval"]
        assert low <= figures["win_rate"] <= high
        assert figures["moves_per_apple"] > 0 and figures["mean_score"] <= 97
    assert c["search"]["mc_k"] == 5 and c["search"]["mc_h"] == 20 and c["alone"]["mc_k"] == 0


def test_the_shipped_player_keeps_the_readmes_promises():
    """What the README says of the shipped player: it fills at least 99 percent of the boards alone (1,000 of 1,000)
    at 12 moves an apple or fewer (issue 24's minimum; 10.1 on the card), the search fills at least 99.5 percent
    (200 of 200) no more than 0.1 moves an apple slower than alone (10.16 against 10.14), and off its path early it
    still fills 95 percent (96.7). Late off its path it does not yet (77.7 percent), which the README says."""
    c = card()
    assert c["alone"]["win_rate"] >= 0.99 and c["alone"]["moves_per_apple"] <= 12
    assert c["search"]["win_rate"] >= 0.995
    assert c["search"]["moves_per_apple"] <= c["alone"]["moves_per_apple"] + 0.1
    assert c["off_path"]["early"]["win_rate"] >= 0.95


@pytest.mark.slow
def test_the_card_agrees_with_what_evaluate_measures_on_its_stated_games():
    """The whole alone figure is measured again (1,000 greedy games, about 3 minutes): a card that drifted from its model, or
    a model that drifted from its card, fails here."""
    import torch

    from evaluate import evaluate_policy
    from policy import load_policy

    torch.set_num_threads(1)
    alone = card()["alone"]
    result = evaluate_policy(load_policy(ROOT / "models" / "snake10.pt"), alone["episodes"], 10, alone["seed"])
    assert result["win_rate"] == pytest.approx(alone["win_rate"], abs=1e-4)
    assert result["mean_score"] == pytest.approx(alone["mean_score"], abs=1e-4)
    assert result["moves_per_apple"] == pytest.approx(alone["moves_per_apple"], abs=1e-3)
