"""Issue 24's ablation: each group of the encoder's inputs zeroed, the imitation policy trained again on the same
demonstrations, and its play measured on the tuning seed set: boards filled, moves per apple, and off the teacher's
path (off_path.py). The inputs are zeroed in training and in play alike, by wrapping `encode` where the trainer
and the network call it.

    python scripts/ablate_inputs.py DEMOS.npz [--episodes 1000] [--off-path-episodes 400] [--epochs 10]
                                    [--only GROUP] [--train-seed 0]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from snake_mc.game import observation  # noqa: E402
from snake_mc.game.cycle_proof import PROOF_FACTS  # noqa: E402
from snake_mc.game.datasets import load_dataset  # noqa: E402
from snake_mc.learn import learning, network  # noqa: E402
from snake_mc.search.evaluation import evaluate_policy  # noqa: E402
from snake_mc.search.off_path import off_path_report  # noqa: E402
from snake_mc.speech.narrate import Narrator  # noqa: E402

TUNING_SEED = 20_000  # the experiments' seed set (README: 20,000 to 29,999)
OFF_PATH_SEED = 24_000


def groups(g: int) -> dict[str, slice]:
    """The encoder's input groups by column, as observation.py lays them out."""
    moves = 3 * g * g + 2
    tour = moves + observation.NUM_MOVE_FEATURES
    return {
        "board planes": slice(0, 3 * g * g),
        "length and hunger": slice(3 * g * g, moves),
        "move searches": slice(moves, tour - 2),
        "food direction": slice(tour - 2, tour),
        "tour facts": slice(tour, tour + observation.NUM_TOUR_FEATURES),
        "proof facts": slice(tour + observation.NUM_TOUR_FEATURES, tour + observation.NUM_TOUR_FEATURES + PROOF_FACTS),
    }


def masked(columns: slice | None):
    """`encode` with `columns` zeroed (None: unchanged)."""
    plain = observation.encode

    def encode(batch, mirror: bool = False, proofs=None):  # noqa: ANN001, ANN202
        x = plain(batch, mirror=mirror, proofs=proofs)
        if columns is not None:
            x[:, columns] = 0.0
        return x

    return encode


def measure(demos: dict, columns: slice | None, args: argparse.Namespace) -> dict:
    learning.encode = network.encode = masked(columns)
    quiet = Narrator(progress="off", quiet=True)
    policy, report = learning.train_imitation(demos, epochs=args.epochs, seed=args.train_seed, device="cpu",
                                              narrator=quiet)
    policy.eval()
    greedy = evaluate_policy(policy, args.episodes, int(demos["grid_size"]), seed=TUNING_SEED)
    off = off_path_report(policy, args.off_path_episodes, int(demos["grid_size"]), seed=OFF_PATH_SEED)
    return {"accuracy": report.val_accuracy, "win_rate": greedy["win_rate"], "mean_score": greedy["mean_score"],
            "moves_per_apple": greedy["moves_per_apple"],
            **{f"off_path_{k}": v["win_rate"] for k, v in off.items()},
            **{f"off_path_{k}_alive": v["alive"] for k, v in off.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("demos")
    parser.add_argument("--episodes", type=int, default=1000)
    parser.add_argument("--off-path-episodes", type=int, default=400)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--only", default=None, help="one group name, or 'none' for the full encoder")
    parser.add_argument("--train-seed", type=int, default=0, help="the imitation training's seed")
    args = parser.parse_args()
    torch.set_num_threads(1)
    demos = load_dataset(args.demos)
    cases = {"none": None, **groups(int(demos["grid_size"]))}
    for name, columns in cases.items():
        if args.only and name != args.only:
            continue
        row = measure(demos, columns, args)
        print(json.dumps({"removed": name, **{k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()}}),
              flush=True)


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
