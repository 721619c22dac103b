"""Record a policy's best game as a video: play a few seeded greedy games in one batch, replay the best one frame by
frame, and write MP4 (imageio with its ffmpeg plugin) or, without ffmpeg, a GIF.

Videos are optional: without imageio the recorder says so in one sentence and returns None instead of failing the run.

    python video_recorder.py data/policy_mc.pt [--episodes 5] [--out DIR or FILE] [--seed S] [--fps 10]
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

from snake_mc.common.cli import OneLineParser, run_guarded
from snake_mc.common.seeds import REPORT_SEED
from snake_mc.common.storage import writable_folder
from snake_mc.run.config import Paths
from snake_mc.speech.narrate import Narrator

PUBLIC = ("VIDEO_FORMATS", "play_greedy", "record_best_episode", "replay_frames")  # from snake_mc/run/video.py


def __getattr__(name: str) -> object:
    """The public API (`from video_recorder import record_best_episode`) lives in snake_mc/run/video.py and loads on
    first use, so that --help and a bad flag answer before torch is loaded."""
    if name in PUBLIC:
        return getattr(importlib.import_module("snake_mc.run.video"), name)
    raise AttributeError(f"module 'video_recorder' has no attribute {name!r}")


def _resolve_out(out: str | None, checkpoint: Path) -> tuple[Path, str | None]:
    """An output stem and format from --out: a .mp4/.gif file name fixes both; anything else is a folder."""
    if out is None:
        return Paths(Path(".")).videos_dir / checkpoint.stem, None
    path = Path(out)
    if path.suffix.lower() in (".mp4", ".gif"):
        return path.with_suffix(""), path.suffix.lower()[1:]
    return path / checkpoint.stem, None


def _parser() -> OneLineParser:
    """The command's flags."""
    parser = OneLineParser(prog="video_recorder.py", description="Record the best of a few greedy games as MP4 or GIF.")
    parser.add_argument("checkpoint", help="Checkpoint to load, such as data/policy_mc.pt.")
    parser.add_argument("--episodes", type=int, default=5, help="Games played to pick the best from (default: 5).")
    parser.add_argument("--out", default=None, help="Output folder, or a file ending in .mp4 or .gif "
                        "(default: training_logs/videos/<checkpoint name>).")  # fmt: skip
    parser.add_argument("--seed", type=int, default=REPORT_SEED,
                        help=f"Seed of the first game; game i uses seed + i (default: {REPORT_SEED:,}, the report set's "
                             "first game, as evaluate.py).")
    parser.add_argument("--fps", type=int, default=10, help="Frames per second (default: 10).")
    parser.add_argument("--max-steps", type=int, default=None, help="Stop each game after this many moves (default: no cap).")
    parser.add_argument("--debug", action="store_true",
                        help="show the full traceback of an unexpected error instead of one sentence")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    return run_guarded("video_recorder.py", lambda: _record(parser, args), args.debug)


def _record(parser: OneLineParser, args) -> int:  # noqa: ANN001 - argparse's namespace
    """The command itself: bad flags and checkpoints refused with exit status 2, then the video recorded."""
    for name in ("episodes", "fps", "max_steps"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1, not {value}")
    if not 0 <= args.seed <= 2**63 - 1000:
        parser.error(f"--seed must be from 0 to {2**63 - 1000:,}, not {args.seed}")
    if args.episodes > 1000 or args.fps > 240:
        parser.error("--episodes must be at most 1000 and --fps at most 240")
    checkpoint = Path(args.checkpoint)
    stem, fmt = _resolve_out(args.out, checkpoint)
    unwritable = writable_folder(stem)
    if unwritable:
        print(f"The video could not be saved: {unwritable}; choose another --out.", file=sys.stderr)
        return 2
    narrator = Narrator()  # sentences: what it does and how long it expects at once, then progress
    narrator.say(f"Recording a video of the policy in {checkpoint}.")
    # Imported now, not above: torch loads in seconds, and --help and a bad flag answer before it.
    from snake_mc.learn.network import CheckpointError, load_policy
    from snake_mc.run import video

    try:
        policy = load_policy(checkpoint, device="cpu")
    except CheckpointError as exc:
        print(exc, file=sys.stderr)
        return 2
    path = video.record_best_episode(policy, stem, args.episodes, policy.grid_size, args.seed, args.fps,
                                     args.max_steps, narrator, fmt)
    return 0 if path is not None else 1


if __name__ == "__main__":
    sys.exit(main())
