"""What a run says before and between its iterations: the plan, and the time left.
"""

from __future__ import annotations

import numpy as np

from snake_mc.run.config import TrainConfig
from snake_mc.run.measure import rel
from snake_mc.run.run_state import RunState
from snake_mc.speech import narrate


def say_plan(cfg: TrainConfig, state: RunState, say: narrate.Narrator, resumed: bool = False) -> None:
    """The plan in full at a run's start; on a resume one sentence (train.log keeps the full plan of the start)."""
    if resumed:
        say.say(f"The plan is the one this run began with, for iterations {state.next_iteration} to "
                f"{cfg.num_iterations}; {rel(cfg, cfg.paths.train_log)} has it in full.")
        return
    # The banner in two sentences: a listener heard 7 at once here and fell 80 seconds behind the run.
    say.say(f"Plan: iterations {state.next_iteration} to {cfg.num_iterations}, each {cfg.mc_episodes} self-play games on "
            f"{narrate.plural(cfg.mc_num_workers, 'worker')} at K {state.mc_K} and H {state.mc_H}, which grow by "
            f"{cfg.mc_K_step} and {cfg.mc_H_step} on a stall; training uses the latest "
            f"{narrate.plural(cfg.mc_reuse_iters, 'iteration')}.")
    say.say(f"Each new policy plays {narrate.count(cfg.fast_eval_episodes, 'game')}, and {cfg.eval_episodes:,} every "
            f"{cfg.eval_full_every} iterations or on a change.")
    say.say(f"Progress stalls when an iteration improves the score by less than {cfg.mc_adapt_threshold:g} and moves "
            f"per apple by less than {cfg.mc_adapt_speed_threshold:g}, {cfg.mc_adapt_patience} times in a row; training "
            f"runs {narrate.plural(cfg.train_epochs, 'epoch')}. A new policy is compared on the same games as the one it "
            f"would replace, and rolled back only when it fills fewer boards, scores lower, or takes more moves per "
            f"apple, by more than {cfg.rollback_z:g} standard errors.", detail=True)
    # How the search and the loss-mining work: details (train.log, and the console with --verbose), the same every run.
    if cfg.hard_games:
        say.say(f"Each iteration also plays {cfg.hard_games:,} games with the policy alone and searches the last "
                f"{cfg.hard_rewind} moves before every lost game again, with {cfg.hard_K} rollouts of {cfg.hard_H} "
                "moves, to learn the moves that lose games.", detail=True)
    trap = ("; a rollout that ends walled off from its own body counts as dead" if cfg.mc_trap_check else "")
    say.say(f"The search keeps the policy's own move unless another scores more than {cfg.mc_margin:g} "
            f"{'apple' if cfg.mc_margin == 1 else 'apples'} better or the policy's move dies in every rollout{trap}; "
            "where the snake lies in tour order it chooses only among the moves that keep that order, which are "
            "proven safe.", detail=True)
    if cfg.mc_perturbed_share:
        say.say(f"{round(100 * cfg.mc_perturbed_share)} percent of the self-play games get 3 random safe moves forced "
                "on them, so that training sees positions off the teacher's path.", detail=True)
    if cfg.mc_detours:
        say.say(f"A snake that circles hungry with no apple in sight gets {cfg.mc_detours} more rollouts per move, up "
                "to the starvation limit, to find a way to the food, and with few cells left every way is searched.",
                detail=True)
    say.say(f"Self-play runs with the {cfg.backend} backend.", detail=True)


def time_left(history: dict, cfg: TrainConfig, iteration: int) -> str:
    """', with about 12 minutes left for the run': the iterations still to come (this one included) at the pace of
    the last three timed ones; before any was timed, that the figure comes after this one."""
    minutes = np.diff(np.asarray(history["elapsed_minutes"], dtype=float)[np.asarray(history["iteration"]) > 0],
                      prepend=0.0) if len(history["iteration"]) else np.zeros(0)
    minutes = minutes[minutes > 0][-3:]
    if not len(minutes):
        return ""
    left = float(minutes.mean()) * 60 * (cfg.num_iterations - iteration + 1)
    return f", with {narrate.about(left)} left for the run"
