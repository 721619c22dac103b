"""The training history drawn and told: a plot of it, and the same story in plain sentences (summary.txt).

Used by the run after every commit and by `python visualize_training.py`; the history's format lives in history.py.
"""

from __future__ import annotations

import math
import os

import numpy as np

from snake_mc.common.storage import atomic_path, write_text_atomic
from snake_mc.run.history import load_history
from snake_mc.speech.narrate import format_seconds, plural


def _num(value: float) -> str:
    """A number as a listener hears it: whole numbers plainly, others to one decimal."""
    value = float(value)
    if not math.isfinite(value):
        return "unknown"
    rounded = round(value, 1)
    return f"{rounded:.0f}" if rounded == int(rounded) else f"{rounded:.1f}"


def _join(items: list[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _kh_changes(history: dict[str, np.ndarray]) -> list[int]:
    """Row indices where K or H differ from the row before."""
    k, h = history["mc_K"], history["mc_H"]
    return [i for i in range(1, len(k)) if k[i] != k[i - 1] or h[i] != h[i - 1]]


def summary_text(history: dict[str, np.ndarray]) -> str:
    """The history as sentences, one per line: start, best, trend, rollbacks, K and H, data, baseline, then one line
    per iteration with its decision."""
    it = history["iteration"]
    n = len(it)
    if n == 0:
        return "No iterations have been recorded yet.\n"
    mean, best_game = history["mean_score"], history["max_score"]
    lines: list[str] = []
    first = "the imitation bootstrap" if it[0] == 0 else "the first recorded iteration"
    lines.append(f"The history holds {plural(n, 'iteration')}, from iteration {it[0]} to iteration {it[-1]}.")
    lines.append(f"It started with {first} scoring a mean of {_num(mean[0])} apples.")
    # A rolled-back iteration's score belongs to a policy that was thrown away (and a fast score comes from other
    # games than a full one), so the best and the trend speak of the kept policies only.
    kept = np.flatnonzero(~history["rolled_back"].astype(bool))
    kept = kept if len(kept) else np.arange(n)
    b = int(kept[np.argmax(mean[kept])])
    kind = "full" if history["full_eval"][b] else "fast"
    lines.append(
        f"The best kept policy scored a mean of {_num(mean[b])}, at iteration {it[b]}, in a {kind} evaluation; "
        f"the best single game scored {_num(best_game.max())}, at iteration {it[int(np.argmax(best_game))]}."
    )
    if n > 1:
        lines += _trend_lines(history, kept)
    lines += _rollback_and_search_lines(history)
    lines += _data_lines(history, kept, b)
    lines += _iteration_lines(history)
    return "\n".join(lines) + "\n"


def _trend_lines(history: dict[str, np.ndarray], kept: np.ndarray) -> list[str]:
    """The latest iteration, and the change from the starting policy to the one training ends with."""
    it, mean = history["iteration"], history["mean_score"]
    lines = []
    last = int(kept[-1])
    if history["rolled_back"][-1]:
        lines.append(f"The latest iteration, {it[-1]}, was rolled back, so training ends with the policy of "
                     f"iteration {it[last]}.")  # fmt: skip
    else:
        lines.append(f"The latest iteration, {it[-1]}, scored a mean of {_num(mean[-1])} "
                     f"with a standard deviation of {_num(history['std_score'][-1])}.")  # fmt: skip
    change = float(mean[last] - mean[0])
    steps = int(it[last] - it[0])
    if steps == 0 or abs(change) < 0.05:
        lines.append(f"From the starting policy to the one training ends with, the mean score held steady at "
                     f"about {_num(mean[last])}.")  # fmt: skip
    else:
        verb = "rose" if change > 0 else "fell"
        per = _num(abs(change) / steps)
        lines.append(f"From the starting policy to the one of iteration {it[last]}, which training ends with, the "
                     f"mean score {verb} by {_num(abs(change))}, about {per} per iteration.")  # fmt: skip
    return lines


def _rollback_and_search_lines(history: dict[str, np.ndarray]) -> list[str]:
    """Where the rollbacks were, and how the search's K and H changed."""
    it = history["iteration"]
    lines = []
    rolled = [int(it[i]) for i in np.flatnonzero(history["rolled_back"])]
    if not rolled:
        lines.append("There were no rollbacks.")
    else:
        where = "iteration" if len(rolled) == 1 else "iterations"
        lines.append(f"There {'was' if len(rolled) == 1 else 'were'} {plural(len(rolled), 'rollback')}, "
                     f"at {where} {_join([str(r) for r in rolled])}.")  # fmt: skip
    k, h = history["mc_K"], history["mc_H"]
    changes = _kh_changes(history)
    if not changes:
        lines.append(f"The search settings stayed at K {k[0]} and H {h[0]} throughout.")
    else:
        steps = [f"to K {k[i]} and H {h[i]} at iteration {it[i]}" for i in changes]
        lines.append(f"The search settings started at K {k[0]} and H {h[0]} and changed "
                     f"{plural(len(changes), 'time')}: {_join(steps)}.")  # fmt: skip
    return lines


def _data_lines(history: dict[str, np.ndarray], kept: np.ndarray, b: int) -> list[str]:
    """The demonstrations' use, the baseline against the best kept policy (row `b`), and the time taken."""
    it, mean, n = history["iteration"], history["mean_score"], len(history["iteration"])
    baseline = float(history["human_baseline"])
    lines = []
    used = history["used_human_data"]
    if used.all():
        lines.append("Demonstrations were part of the training data in every iteration.")
    elif not used.any():
        lines.append("Demonstrations were not part of the training data in any iteration.")
    else:
        dropped = [int(it[i]) for i in range(1, n) if used[i - 1] and not used[i]]
        if dropped:
            lines.append(f"Demonstrations were dropped from the training data from iteration {dropped[0]}.")
        else:
            lines.append(f"Demonstrations were used in {int(used.sum())} of the {n} iterations.")
    if not math.isfinite(baseline):
        lines.append("No baseline was recorded from the demonstrations, so there is nothing to compare against.")
    elif mean[b] > baseline:
        beat = int(it[int(kept[np.argmax(mean[kept] > baseline)])])
        lines.append(f"The demonstrations' baseline of {_num(baseline)} was beaten: the best mean score is "
                     f"{_num(mean[b] - baseline)} above it, and iteration {beat} was the first to beat it.")  # fmt: skip
    else:
        lines.append(f"The demonstrations' baseline of {_num(baseline)} was not beaten: the best mean score is "
                     f"{_num(baseline - mean[b])} below it.")  # fmt: skip
    elapsed = float(history["elapsed_minutes"][-1])
    if math.isfinite(elapsed) and elapsed > 0:
        lines.append(f"Training took {format_seconds(elapsed * 60)} up to the latest iteration.")
    return lines


def _iteration_lines(history: dict[str, np.ndarray]) -> list[str]:
    """One line per iteration: its score, the share of boards filled, the evaluation, K and H, and the decision."""
    it, mean, k, h = history["iteration"], history["mean_score"], history["mc_K"], history["mc_H"]
    lines = []
    for i in range(len(it)):
        scope = "full" if history["full_eval"][i] else "fast"
        decision = str(history["decision"][i]).strip()
        decision = decision[:1].upper() + decision[1:]  # the driver's decisions are clauses
        fill = history["win_rate"][i]
        filled = f", {_num(100 * fill)} percent of boards filled" if math.isfinite(fill) else ""
        head = f"Iteration {it[i]}: mean score {_num(mean[i])}{filled} in a {scope} evaluation, K {k[i]}, H {h[i]}."
        lines.append(f"{head} {decision}".rstrip())
    return lines


# ----- the picture ---------------------------------------------------------------------------------------------
def plot_history(history_path: str | os.PathLike, out_png: str | os.PathLike, summary_txt: str | os.PathLike) -> None:
    """Score plot (mean with a std band, best game, human baseline, rollbacks, K/H changes) and the summary text,
    both written atomically."""
    import matplotlib

    matplotlib.use("Agg")  # no display needed, and never a window popping up mid-training
    import matplotlib.pyplot as plt

    history = load_history(history_path)
    # Three panels, one axis each: a second y-axis drawn over the scores hid one scale behind the other.
    fig, (ax, ax_fill, ax_kh) = plt.subplots(3, 1, figsize=(9, 8), sharex=True, gridspec_kw={"height_ratios": [3, 1.5, 1]})
    try:
        _draw_scores(ax, ax_kh, history)
        _draw_fill(ax_fill, history)
        _draw_search(ax_kh, history)
        fig.tight_layout()
        with atomic_path(out_png, suffix=".png") as tmp:
            fig.savefig(tmp, format="png", dpi=100)
    finally:
        plt.close(fig)
    write_text_atomic(summary_txt, summary_text(history))


def _draw_scores(ax, ax_kh, history: dict[str, np.ndarray]) -> None:
    """The score panel: each kind of evaluation its own series, the best game, the baseline, rollbacks, and where K
    or H changed (marked on the search panel `ax_kh` too)."""
    x = history["iteration"]
    mean, std = history["mean_score"], history["std_score"]
    # Fast and full evaluations play different numbers of games, so each kind is its own series: a line never
    # joins a fast score to a full one, and like is compared with like.
    full = history["full_eval"]
    # No game scores below 0 or above the best any game reached, so the band stops there (a band over 97 on
    # 10 by 10 drew scores no game can make).
    top = float(np.max(history["max_score"])) if len(x) else 0.0
    ax.fill_between(x[full], np.clip(mean - std, 0, top)[full], np.clip(mean + std, 0, top)[full], color="tab:blue",
                    alpha=0.2, label="full evaluations, plus or minus one std, within 0 and the best game")  # fmt: skip
    ax.plot(x[full], mean[full], color="tab:blue", marker="o", markersize=5, label="mean score, full evaluations")
    if (~full).any():
        ax.plot(x[~full], mean[~full], color="tab:cyan", marker="^", markersize=5, linestyle="--",
                label="mean score, fast evaluations")  # fmt: skip
    ax.plot(x, history["max_score"], color="tab:green", linestyle="--", label="best game")
    baseline = float(history["human_baseline"])
    if math.isfinite(baseline):
        ax.axhline(baseline, color="tab:orange", linestyle=":", linewidth=2, label=f"demonstrations' mean {_num(baseline)}")
    rolled = history["rolled_back"]
    if rolled.any():
        ax.plot(x[rolled], mean[rolled], linestyle="none", marker="x", color="tab:red", markersize=10,
                markeredgewidth=2, label="rolled back")  # fmt: skip
    for j, i in enumerate(_kh_changes(history)):
        ax.axvline(x[i], color="gray", linestyle="-.", linewidth=1, label="K or H changed" if j == 0 else None)
        ax_kh.axvline(x[i], color="gray", linestyle="-.", linewidth=1)
        ax.annotate(f"K {history['mc_K'][i]}, H {history['mc_H'][i]}", (x[i], 1.0), xycoords=("data", "axes fraction"),
                    rotation=90, va="top", ha="right", fontsize=8, color="gray")  # fmt: skip
    ax.set_ylabel("score (apples)")
    ax.set_title("Snake training progress" if len(x) else "Snake training progress: no iterations yet")
    ax.grid(alpha=0.3)
    if len(x):
        ax.legend(loc="best", fontsize=8)


def _draw_fill(ax_fill, history: dict[str, np.ndarray]) -> None:
    """The share of boards filled, in a panel of its own."""
    x, fill = history["iteration"], history["win_rate"]
    if np.isfinite(fill).any():
        ax_fill.plot(x, 100 * fill, color="tab:purple", marker="s", markersize=3, label="boards filled (percent)")
        ax_fill.legend(loc="lower right", fontsize=8)
    ax_fill.set_ylabel("boards filled (percent)")
    ax_fill.set_ylim(0, 102)
    ax_fill.grid(alpha=0.3)


def _draw_search(ax_kh, history: dict[str, np.ndarray]) -> None:
    """K and H over the iterations."""
    x = history["iteration"]
    ax_kh.plot(x, history["mc_K"], drawstyle="steps-post", marker="o", markersize=3, label="K (rollouts per action)")
    ax_kh.plot(x, history["mc_H"], drawstyle="steps-post", marker="o", markersize=3, label="H (horizon)")
    ax_kh.set_xlabel("iteration (0 is the imitation bootstrap)")
    ax_kh.set_ylabel("search")
    ax_kh.grid(alpha=0.3)
    if len(x):
        ax_kh.legend(loc="upper left", fontsize=8)
        ax_kh.xaxis.get_major_locator().set_params(integer=True)
