"""Write the evidence that ships beside a model: `models/snake10.json` holds what `evaluate.py --json` prints for
the policy alone and for the search choosing every move, on games of the report seed set, with the command and the
commit that made the model; each with its moves per apple and their interval, and `off_path`: the policy alone
played off its own path from an early and a late hand-over (`evaluate.py --off-path`, on the alone games).

Usage: python scripts/model_card.py models/snake10.pt --made-by "python iterative_train.py --config configs/snake10.toml"
       [--commit SHA] [--alone-episodes 1000] [--search-episodes 200] [--seed 5000000000] [--out models/snake10.json]

It runs `evaluate.py` itself (the same code a reader runs to check the figures), so the card and a reader's check can
only disagree if the model or the code changed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REPORT_SEED = 5_000_000_000  # the report seed set (README, "Three seed sets"): no run or experiment plays these games


def measure(checkpoint: str, episodes: int, seed: int, search: list[str]) -> dict:
    """One `evaluate.py --json` run: its single line of figures on standard output."""
    command = [sys.executable, str(ROOT / "evaluate.py"), checkpoint, "--episodes", str(episodes), "--seed", str(seed),
               "--json", "--progress", "off", *search]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def per_apple(figures: dict) -> str:
    """Moves per apple as the summary line says them (null when no apple was eaten)."""
    value = figures["moves_per_apple"]
    return "no apple eaten" if value is None else f"{value:.1f} moves per apple"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    p.add_argument("checkpoint")
    p.add_argument("--made-by", required=True, help="the command that trained the model")
    p.add_argument("--commit", default=None, help="the commit whose code trained the model (default: this one)")
    p.add_argument("--alone-episodes", type=int, default=1000)
    p.add_argument("--search-episodes", type=int, default=200)
    p.add_argument("--seed", type=int, default=REPORT_SEED)
    p.add_argument("--out", default=None, help="default: the checkpoint's name with .json")
    args = p.parse_args()
    commit = subprocess.run(["git", "rev-parse", args.commit or "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip()
    alone = measure(args.checkpoint, args.alone_episodes, args.seed, ["--off-path"])
    card = {
        "model": args.checkpoint,
        "made_by": args.made_by,
        "commit": commit,
        "alone": alone,
        "search": measure(args.checkpoint, args.search_episodes, args.seed, ["--mc-k", "5", "--mc-h", "20"]),
        "off_path": alone.pop("off_path"),  # {"early": ..., "late": ...}; "alone" stays what plain evaluate.py prints
    }
    out = Path(args.out or Path(args.checkpoint).with_suffix(".json"))
    fd, tmp = tempfile.mkstemp(dir=out.parent, suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(card, f, indent=2)
        f.write("\n")
    os.chmod(tmp, 0o644)  # mkstemp makes it private; the card is for every reader
    os.replace(tmp, out)
    print(f"Wrote {out}: alone, {100 * card['alone']['win_rate']:.1f} percent of {args.alone_episodes} boards filled; "
          f"with the search, {100 * card['search']['win_rate']:.1f} percent of {args.search_episodes}.")
    print(f"Moves per apple: alone, {per_apple(card['alone'])}; with the search, {per_apple(card['search'])}.")
    for name, part in card["off_path"].items():
        if part["alive"] == 0:
            print(f"Off its path, {name}: no game was still running after {part['handover_moves']} own moves.")
            continue
        print(f"Off its path, {name}: of {part['alive']} games still running after {part['handover_moves']} own moves, "
              f"{100 * part['win_rate']:.1f} percent filled the board; after the hand-over, {per_apple(part)}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
