"""Issue 24's proof of the loop: the imitation start, every iteration's kept policy and the final one, on the report
seed set, paired against the start: boards filled, moves per apple on the boards both filled, and the share filled
off the teacher's path (off_path.py, early and late hand-over). One JSON line per policy.

    python scripts/loop_proof.py RUN_FOLDER [--episodes 1000] [--off-path-episodes 400]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from snake_mc.learn.network import load_policy  # noqa: E402
from snake_mc.search.evaluation import evaluate_policy  # noqa: E402
from snake_mc.search.off_path import off_path_report  # noqa: E402

REPORT_SEED = 5_000_000_000  # the report seed set (README): no run decision and no tuning used these games
OFF_PATH_SEED = REPORT_SEED + 100_000


def policies(run: Path) -> list[tuple[str, Path]]:
    """The start, then every iteration's kept policy in order."""
    found = sorted(run.glob("training_logs/models/policy_iter_*_mc.pt"), key=lambda p: int(p.stem.split("_")[2]))
    return [("imitation start", run / "data/policy_imitation.pt")] + [(p.stem, p) for p in found if "iter_0_" not in p.name]


def se(x: np.ndarray) -> float:
    return float(x.std(ddof=1) / math.sqrt(len(x))) if len(x) > 1 else math.nan


def paired_figures(ev: dict, start: dict, cells: int) -> dict:
    """Fill-rate difference and moves per apple on the boards both filled, each with its standard error."""
    won, won0 = np.asarray(ev["scores"]) >= cells - 3, np.asarray(start["scores"]) >= cells - 3
    fill = won.astype(float) - won0
    both = won & won0
    speed = (np.asarray(ev["lengths"]) - np.asarray(start["lengths"]))[both] / (cells - 3)
    return {"fill_gain": float(fill.mean()), "fill_gain_se": se(fill), "mpa_gain_on_both": float(speed.mean()),
            "mpa_gain_se": se(speed), "both_filled": int(both.sum())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run")
    parser.add_argument("--episodes", type=int, default=1000)
    parser.add_argument("--off-path-episodes", type=int, default=400)
    parser.add_argument("--ends", action="store_true", help="only the imitation start and the final policy")
    parser.add_argument("--after", type=int, default=0,
                        help="only the start (the pairs' reference) and the iterations after this one")
    args = parser.parse_args()
    torch.set_num_threads(1)
    start = None
    found = policies(Path(args.run))
    found = found[:1] + [(name, path) for name, path in found[1:] if int(name.split("_")[2]) > args.after]
    for name, path in [found[0], found[-1]] if args.ends else found:
        policy = load_policy(path)
        g = policy.grid_size
        ev = evaluate_policy(policy, args.episodes, g, seed=REPORT_SEED)
        start = start or ev
        off = off_path_report(policy, args.off_path_episodes, g, seed=OFF_PATH_SEED)
        row = {"policy": name, "win_rate": ev["win_rate"], "moves_per_apple": ev["moves_per_apple"],
               "mean_score": ev["mean_score"], **paired_figures(ev, start, g * g),
               **{f"off_path_{k}": v["win_rate"] for k, v in off.items()},
               **{f"off_path_{k}_alive": v["alive"] for k, v in off.items()}}
        print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}), flush=True)


if __name__ == "__main__":
    main()
