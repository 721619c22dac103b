"""What follows each commit (plots, an optional video) and the end of a run (the result first, then the summary).
"""

from __future__ import annotations

import numpy as np

from snake_mc.learn.network import load_policy
from snake_mc.run.config import TrainConfig
from snake_mc.run.measure import eval_seed, rel
from snake_mc.run.plots import plot_history
from snake_mc.run.run_state import RunRecord
from snake_mc.run.video import record_best_episode
from snake_mc.speech import narrate


def save_plots(cfg: TrainConfig, say: narrate.Narrator) -> None:
    p = cfg.paths
    try:
        plot_history(p.history, p.progress_png, p.summary_txt)
    except Exception as exc:  # a plot must never stop training
        say.say(f"The progress plot could not be drawn ({type(exc).__name__}: {exc}); training goes on.")


def record_video(cfg: TrainConfig, policy, iteration: int, say: narrate.Narrator) -> None:
    record_best_episode(policy, cfg.paths.videos_dir / f"iter_{iteration}", episodes=cfg.video_episodes,
                        grid_size=cfg.grid_size, seed=eval_seed(cfg), narrator=say)


def after_iteration(cfg: TrainConfig, iteration: int, elapsed: float, say: narrate.Narrator) -> None:
    """Plots and the optional video; neither can lose the committed iteration."""
    save_plots(cfg, say)
    if cfg.record_videos:
        policy = load_policy(cfg.paths.mc_policy, grid_size=cfg.grid_size)
        record_video(cfg, policy, iteration, say)
    say.say(f"Iteration {iteration} is saved as {cfg.paths.iteration_model(iteration).name}, after "
            f"{narrate.format_seconds(elapsed * 60)} of training in all.")


def finish(cfg: TrainConfig, record: RunRecord, say: narrate.Narrator, already_done: bool = False) -> int:
    if already_done:
        say.say(f"All {cfg.num_iterations} iterations are already done. To train further, run again with "
                f"--iterations set higher, for example --iterations {cfg.num_iterations + 5}.", essential=True)
    if not already_done:
        say.say(result_sentence(record.history), essential=True)
    say_summary(cfg, record.history, say)
    save_plots(cfg, say)
    if not already_done:
        say.say(f"The policy is in {rel(cfg, cfg.paths.mc_policy)}, and every iteration's story in "
                f"{rel(cfg, cfg.paths.train_log)}. To train further, run again with a higher --iterations.",
                essential=True)
        say.say(f"The same story is in {rel(cfg, cfg.paths.summary_csv)}, and python visualize_training.py says it "
                "again.", detail=True)
    return 0


def result_sentence(history: dict) -> str:
    """The result first, as a listener wants it: the share of boards the kept policy fills alone, and where it began."""
    kept = np.flatnonzero(~np.asarray(history["rolled_back"], dtype=bool))  # a rolled-back row scored the other policy
    if not len(kept):
        return "Training is complete."
    last, first = kept[-1], kept[0]
    fill, start = float(history["win_rate"][last]), float(history["win_rate"][first])
    said = (f"Training is complete: the policy alone fills {100 * fill:.0f} percent of boards, mean score "
            f"{float(history['mean_score'][last]):.1f}" if np.isfinite(fill) else
            f"Training is complete: the policy alone scores {float(history['mean_score'][last]):.1f} on average")
    if last != first and np.isfinite(start):
        said += f"; iteration {int(history['iteration'][first])} filled {100 * start:.0f} percent"
    return said + "."


def say_summary(cfg: TrainConfig, history: dict, say: narrate.Narrator) -> None:
    """One sentence per iteration (summary.csv, written by each commit, has them as a table)."""
    say.say("Summary of every iteration follows.", detail=True)
    search = None
    for i in range(len(history["iteration"])):
        it, mean, fill = int(history["iteration"][i]), float(history["mean_score"][i]), history["win_rate"][i]
        kind = "full" if history["full_eval"][i] else "fast"
        filled = f", {100 * fill:.0f} percent of boards filled" if np.isfinite(fill) else ""
        now = f"K {int(history['mc_K'][i])} and H {int(history['mc_H'][i])}"
        said = f", {now}" if now != search else ""  # the search's size when it is new to the listener
        search = now
        say.say(f"Iteration {it}: mean score {mean:.1f}{filled} on the {kind} evaluation{said}; "
                f"{history['decision'][i]}", detail=True)
    say.say(f"The summary is also in {rel(cfg, cfg.paths.summary_csv)}.", detail=True)
