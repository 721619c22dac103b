"""An iteration's judgement: the new policy against the one it would replace on the same games, the decision said,
and the one commit that records it.

decide.py decides (pure); this module measures what it reads and carries out what it says.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass

import numpy as np

from snake_mc.common.constants import MAX_H, MAX_K
from snake_mc.learn.network import load_policy, save_policy
from snake_mc.run.config import TrainConfig
from snake_mc.run.decide import Comparison, Decision, Rules, Standing, full_eval_reason
from snake_mc.run.measure import evaluate, speak_score
from snake_mc.run.run_state import RunRecord, RunState
from snake_mc.speech import narrate


@dataclass
class Judged:
    """A new policy's evaluations (the fast one, and the full one when there was one), their paired comparisons with
    the policy it would replace, and that policy's scores and episode lengths on the full games."""

    fast_ev: dict
    full_ev: dict | None
    fast: Comparison
    full: Comparison | None
    replaced: dict[str, list[int]]


def judge(cfg: TrainConfig, record: RunRecord, trained, iteration: int, device, say: narrate.Narrator) -> Judged:
    """Evaluate the new policy against the one it would replace, on the same games (decide.py says which). Also
    holds the replaced policy's scores and episode lengths on the full games (full_scores, full_lengths), measured
    here when the record had none."""
    state, g = record.state, cfg.grid_size
    replaced = {"full_scores": list(state.full_scores), "full_lengths": list(state.full_lengths)}
    with say.phase("Evaluation", f"Fast evaluation on {cfg.fast_eval_episodes} games.") as ev:
        fast_ev = evaluate(trained, cfg, cfg.fast_eval_episodes, say)
        fast = compare(fast_ev, state.fast_scores, state.fast_lengths, g)
        ev.update(iteration=iteration, fast_mean=fast.new_mean, fast_fill=fast.new_fill, fast_gain=fast.gain,
                  fast_se=fast.se, fast_fill_gain=fast.fill_gain, fast_speed_gain=fast.speed_gain,
                  fast_speed_se=fast.speed_se)
        say.say(f"Fast evaluation: {speak_score(fast_ev)}; {fast.sentence()}.", detail=True)
        reason = full_eval_reason(iteration, rules_of(cfg, state), standing_of(cfg, state), fast)
        if reason is None:
            say.say("No full evaluation this iteration: the fast one is decisive enough.", detail=True)
            return Judged(fast_ev, None, fast, None, replaced)
        say.say(f"A full evaluation on {cfg.eval_episodes} games follows, because {reason}.", detail=True)
        if len(replaced["full_scores"]) != cfg.eval_episodes:
            say.say("First, the policy it would replace plays the same games, since it was kept on a fast evaluation.",
                    detail=True)
            current = load_policy(cfg.paths.mc_policy, device=device, grid_size=g)
            old = evaluate(current, cfg, cfg.eval_episodes, say)
            replaced = {"full_scores": old["scores"].tolist(), "full_lengths": old["lengths"].tolist()}
        full_ev = evaluate(trained, cfg, cfg.eval_episodes, say)
        full = compare(full_ev, replaced["full_scores"], replaced["full_lengths"], g)
        ev.update(full_mean=full.new_mean, full_fill=full.new_fill, full_gain=full.gain, full_se=full.se,
                  full_fill_gain=full.fill_gain, full_speed_gain=full.speed_gain, full_speed_se=full.speed_se)
        say.say(f"Full evaluation: {speak_score(full_ev)}; {full.sentence()}.", detail=True)
    return Judged(fast_ev, full_ev, fast, full, replaced)


def compare(new_ev: dict, old_scores: list[int], old_lengths: list[int], grid_size: int) -> Comparison:
    """The paired comparison on the same games of a new evaluation with the replaced policy's scores and episode
    lengths (none saved: its speed is unknown); a filled board is a score of grid_size**2 - 3."""
    full_board = grid_size * grid_size - 3
    new, old = np.asarray(new_ev["scores"]), np.asarray(old_scores)
    return Comparison.of(new, new >= full_board, old, old >= full_board, np.asarray(new_ev["lengths"]),
                         np.asarray(old_lengths, dtype=np.int64))


def rules_of(cfg: TrainConfig, state: RunState) -> Rules:
    """The decisions' settings; the growth steps stop at the largest K and H a rerun accepts (MAX_K, MAX_H), so what
    the growth saves always resumes, and the sentence that says it grew says what was saved."""
    return Rules(eval_full_every=cfg.eval_full_every, adapt_threshold=cfg.mc_adapt_threshold,
                 adapt_speed_threshold=cfg.mc_adapt_speed_threshold, adapt_patience=cfg.mc_adapt_patience,
                 K_step=min(cfg.mc_K_step, MAX_K - state.mc_K), H_step=min(cfg.mc_H_step, MAX_H - state.mc_H),
                 rollback_z=cfg.rollback_z,
                 include_human_data=cfg.include_human_data, human_baseline=state.human_baseline)


def standing_of(cfg: TrainConfig, state: RunState) -> Standing:
    return Standing(mc_K=state.mc_K, mc_H=state.mc_H, low_improvement_streak=state.low_improvement_streak,
                    use_human_data=state.use_human_data, has_full_scores=len(state.full_scores) >= cfg.eval_episodes)


def history_row(ev: dict, full_eval: bool, K: int, H: int, rolled_back: bool, used_human: bool, decision: str,
                compared: Comparison | None = None) -> dict:
    """One history row from an evaluation and what was decided (the speed: the policy's moves per apple, and its
    paired change on the boards both policies filled)."""
    mpa = ev.get("moves_per_apple", np.nan)
    if compared is not None and np.isfinite(compared.new_moves_per_apple):
        mpa = compared.new_moves_per_apple
    return {"mean_score": ev["mean_score"], "std_score": ev["std_score"], "max_score": ev["max_score"],
            "mean_length": ev["mean_length"], "win_rate": ev["win_rate"], "full_eval": full_eval, "mc_K": K,
            "mc_H": H, "rolled_back": rolled_back, "used_human_data": used_human, "decision": decision,
            "gain": np.nan if compared is None else compared.gain, "gain_se": np.nan if compared is None else compared.se,
            "moves_per_apple": mpa, "speed_gain": np.nan if compared is None else compared.speed_gain,
            "speed_se": np.nan if compared is None else compared.speed_se}


def say_decision(decision: Decision, full_eval: bool, iteration: int, iterations: int, say: narrate.Narrator) -> None:
    """The decision in sentences (its details in the log), in one sentence under --quiet, and as an event."""
    for sentence in decision.sentences:
        say.say(sentence)
    for sentence in decision.details:
        say.say(sentence, detail=True)
    if say.brief:  # --quiet: the decision in one sentence is all an iteration says
        first = decision.sentences[0]
        say.say(f"In iteration {iteration} of {iterations}, {first[:1].lower()}{first[1:]}", essential=True)
    c = decision.compared
    say.event("decision", iteration=iteration, kept=decision.keep, gain=c.gain, se=c.se, games=c.games,
              fill=c.new_fill, fill_gain=c.fill_gain, moves_per_apple=c.new_moves_per_apple,
              speed_gain=c.speed_gain, speed_se=c.speed_se, speed_games=c.speed_games,
              full_eval=full_eval)


def commit_iteration(cfg: TrainConfig, record: RunRecord, iteration: int, trained, judged: Judged,  # noqa: PLR0913
                     decision: Decision, used_human: bool, archived: list[str], started: float) -> float:
    """The iteration's one commit: the trained policy (only when kept), the scores the next comparison reads, the
    history row and the search's size, all at once. Returns the run's minutes of training so far."""
    scores = judged.replaced  # a rolled-back iteration still learned the kept policy's full scores and lengths
    write = None  # the trained policy reaches data/policy_mc.pt (in the commit) only when kept
    c = decision.compared
    if decision.keep:
        write = functools.partial(save_policy, trained, iteration=iteration, eval={"mean_score": c.new_mean})
        full_ev = judged.full_ev
        scores = {"fast_scores": judged.fast_ev["scores"].tolist(), "fast_lengths": judged.fast_ev["lengths"].tolist(),
                  "full_scores": full_ev["scores"].tolist() if full_ev is not None else [],
                  "full_lengths": full_ev["lengths"].tolist() if full_ev is not None else []}
    reported = judged.full_ev if judged.full_ev is not None else judged.fast_ev
    row = history_row(reported, judged.full is not None, decision.mc_K, decision.mc_H, not decision.keep, used_human,
                      decision.summary, c)
    elapsed = record.state.elapsed_minutes + (time.perf_counter() - started) / 60
    record.commit(iteration, row, elapsed, write_policy=write, mc_K=decision.mc_K, mc_H=decision.mc_H,
                  low_improvement_streak=decision.low_improvement_streak,
                  use_human_data=decision.use_human_data, archived_mc_files=archived, **scores)
    return elapsed
