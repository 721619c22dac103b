"""Train the imitation policy from recorded demonstrations.

    python train_imitation.py                  data/human_demos.npz -> data/policy_imitation.pt
    python train_imitation.py --epochs 10 --workdir runs/a --device cpu

The demonstrations come from `python play.py` (a person) or `python play.py --scripted 200` (the scripted player).
The policy learns to choose the demonstrated move; a tenth of the games is held out, and the held-out accuracy (how
often it picks the demonstrated move in games it never saw) is said at the end and kept in the checkpoint.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from snake_mc.common.cli import OneLineParser, run_guarded
from snake_mc.common.compiled import first_load_sentence
from snake_mc.common.storage import writable_folder
from snake_mc.speech.narrate import Narrator, per_second

FIX = "python play.py --scripted 200"


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="train_imitation.py", description="Train the imitation policy from recorded demonstrations.")
    p.add_argument("--workdir", default=".", help="folder holding data/ (default: the current folder)")
    p.add_argument("--demos", default=None, help="demonstrations file (default: WORKDIR/data/human_demos.npz)")
    p.add_argument("--out", default=None, help="checkpoint to write (default: WORKDIR/data/policy_imitation.pt)")
    p.add_argument("--epochs", type=int, default=10, help="passes over the demonstrations (default: 10)")
    p.add_argument("--batch-size", type=int, default=512, help="samples per gradient step (default: 512)")
    p.add_argument("--lr", type=float, default=3e-3, help="peak learning rate of the cosine schedule (default: 0.003)")
    p.add_argument("--grid-size", type=int, default=None, help="board size the demos must have (default: the file's)")
    p.add_argument("--hidden", type=int, default=128, help="hidden units per layer (default: 128)")
    p.add_argument("--layers", type=int, default=2, help="hidden layers (default: 2)")
    p.add_argument("--seed", type=int, default=0, help="seed for the initial weights, split and shuffles (default: 0)")
    p.add_argument("--device", default="auto", help="torch device: auto, cpu, cuda or cuda:N (default: auto)")
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads (default 1: three times as fast as 2 beside busy programs, 10 percent slower idle)")
    p.add_argument("--quiet", action="store_true", help="say only errors and the result on the console")
    p.add_argument("--verbose", action="store_true", help="say every detail on the console, such as the training speed")
    p.add_argument("--debug", action="store_true", help="show the full traceback of an unexpected error instead of one sentence")
    return p


def check_flags(args: argparse.Namespace) -> str | None:
    """The first bad flag as one sentence, or None."""
    if args.epochs < 0:
        return f"--epochs must be 0 or more, not {args.epochs}."
    if args.batch_size < 1:
        return f"--batch-size must be at least 1, not {args.batch_size}."
    if not (math.isfinite(args.lr) and args.lr > 0):
        return f"--lr must be a positive number, not {args.lr}."
    if args.grid_size is not None and args.grid_size < 4:
        return f"--grid-size must be at least 4, not {args.grid_size}."
    if args.hidden < 1:
        return f"--hidden must be at least 1, not {args.hidden}."
    if args.layers < 1:
        return f"--layers must be at least 1, not {args.layers}."
    if args.quiet and args.verbose:
        return "--quiet and --verbose ask for opposite things; keep one of the two."
    if not 1 <= args.threads <= 1024:
        return f"--threads must be from 1 to 1024, not {args.threads}."
    return None


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_guarded("train_imitation.py", lambda: _train(args), args.debug)


def _train(args: argparse.Namespace) -> int:
    """The command itself: bad flags and demonstrations refused with exit status 2, then the training and its save."""
    problem = check_flags(args)
    if problem:
        print(problem, file=sys.stderr)
        return 2
    workdir = Path(args.workdir)
    demos_path = Path(args.demos) if args.demos else workdir / "data" / "human_demos.npz"
    out_path = Path(args.out) if args.out else workdir / "data" / "policy_imitation.pt"
    unwritable = writable_folder(out_path)
    if unwritable:
        print(f"The policy could not be saved: {unwritable}; choose another --out.", file=sys.stderr)
        return 2
    say = Narrator(brief=args.quiet, details=args.verbose)
    say.say(f"Imitation training starts: it learns from {demos_path} and writes {out_path}.")
    if first_load_sentence():
        say.say(first_load_sentence())
    # Imported now, not above: torch loads in seconds, and --help and a bad flag answer before it.
    import torch

    from snake_mc.learn.learning import train_imitation
    from snake_mc.learn.network import resolve_device, save_policy

    try:
        resolve_device(args.device)
    except ValueError as exc:  # a GPU asked for where there is none
        print(str(exc), file=sys.stderr)
        return 2
    except RuntimeError:  # not a device name at all
        print(f"--device must be auto, cpu, cuda or cuda:N, not {args.device!r}.", file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    demos, problem = _demonstrations(demos_path, args.grid_size)
    if problem:
        print(problem, file=sys.stderr)
        return 2
    source = str(demos["source"])
    try:
        policy, report = train_imitation(
            demos,
            epochs=args.epochs,
            batch_size=args.batch_size,
            lr=args.lr,
            seed=args.seed,
            device=args.device,
            model_config={"hidden": args.hidden, "layers": args.layers},
            narrator=say,
        )
    except ValueError as exc:  # demonstrations that do not fit the network, for one
        print(str(exc), file=sys.stderr)
        return 2
    say.say(f"Training ran at {per_second(report.samples_per_second, 'move')}.", detail=True)
    save_policy(policy, out_path, iteration=0, source=source, demos=str(demos_path), training=report.as_dict())
    if report.val_samples:
        held_out = f"it chose the {source} player's move in {100 * report.val_accuracy:.1f} percent of held-out positions"
    else:
        held_out = "there were too few games to measure a held-out accuracy"
    say.say(f"Saved the imitation policy to {out_path}; {held_out}.", essential=True)
    return 0


def _demonstrations(path: Path, grid_size: int | None) -> tuple[dict | None, str | None]:
    """The demonstrations, checked, or None and the sentence that says what is wrong and how to fix it."""
    from snake_mc.game import datasets

    if not path.exists():
        return None, f"There are no demonstrations at {path}; record some with {FIX}, then run this again."
    try:
        demos = datasets.load_dataset(path, grid_size=grid_size)
    except datasets.DatasetError as exc:
        return None, f"{str(exc).rstrip('.')}; to start afresh, record new demonstrations with {FIX}."
    if datasets.num_samples(demos) == 0:
        return None, f"{path} holds no moves; record demonstrations with {FIX}."
    return demos, None


if __name__ == "__main__":
    sys.exit(main())
