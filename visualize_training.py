"""The training history drawn (training_logs/progress.png) and told in plain sentences (training_logs/summary.txt).

The drawing and the sentences live in snake_mc/run/plots.py; this command writes them and reads the summary aloud.

`python visualize_training.py [--workdir DIR]` writes the plot and the summary and reads the summary aloud.
"""

from __future__ import annotations

import sys
from pathlib import Path

from snake_mc.common.cli import OneLineParser, run_guarded
from snake_mc.run.config import Paths
from snake_mc.run.history import HistoryError
from snake_mc.run.plots import plot_history, summary_text
from snake_mc.speech.narrate import Narrator

__all__ = ["main", "plot_history", "summary_text"]


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(
        prog="visualize_training.py", description="Plot training_logs/training_history.npz and summarise it in sentences."
    )
    parser.add_argument("--workdir", default=".", help="Folder holding training_logs/ (default: the current folder).")
    parser.add_argument("--debug", action="store_true",
                        help="Show the full traceback of an unexpected error instead of one sentence.")
    args = parser.parse_args(argv)
    return run_guarded("visualize_training.py", lambda: _draw(Paths(Path(args.workdir))), args.debug)


def _draw(paths: Paths) -> int:
    """The command itself: a missing or damaged history refused with exit status 2, then the plot and the summary."""
    try:
        plot_history(paths.history, paths.progress_png, paths.summary_txt)
    except HistoryError as exc:
        print(exc, file=sys.stderr)
        return 2
    narrator = Narrator(progress="off")
    for line in paths.summary_txt.read_text(encoding="utf-8").splitlines():
        narrator.say(line)
    narrator.say(f"The plot is in {paths.progress_png} and the summary in {paths.summary_txt}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
