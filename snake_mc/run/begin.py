"""How a run begins: its prerequisites, a fresh start (bootstrap, committed as iteration 0) or a resume.

A fresh folder gets scripted demonstrations and an imitation policy, said to be scripted; a folder with a run state
resumes it, with the policy an interrupted iteration left put back and the scores re-measured when this command
plays other games.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from snake_mc.common.seeds import Stream, first_game, run_seed_of
from snake_mc.common.storage import copy_atomic
from snake_mc.game import datasets
from snake_mc.game.scripted import record_scripted
from snake_mc.learn.baseline import Baseline, human_baseline
from snake_mc.learn.learning import train_imitation
from snake_mc.learn.network import CheckpointError, load_policy, resolve_device, save_policy
from snake_mc.run import history as hist
from snake_mc.run.config import TrainConfig
from snake_mc.run.decide import Candidate, pick_best
from snake_mc.run.judging import history_row
from snake_mc.run.measure import eval_seed, evaluate, rel, speak_score
from snake_mc.run.run_state import RunRecord, RunState, RunStateError, set_aside
from snake_mc.search.self_play import check_ray_address
from snake_mc.speech import narrate


@dataclass
class Begun:
    """A run ready for its first iteration: its record (fresh or resumed), demonstrations, baseline and device."""

    record: RunRecord
    demos: dict
    baseline: Baseline
    device: torch.device
    resumed: bool


def begin_run(cfg: TrainConfig, say: narrate.Narrator) -> Begun:
    """Seeds and threads set, the first sentence said, the prerequisites made or checked, then a fresh start
    (bootstrap, committed as iteration 0) or the folder's run resumed."""
    p = cfg.paths
    device = resolve_device(cfg.device)
    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed % 2**32)
    torch.set_num_threads(cfg.threads)  # self-play workers and the hard-position search set their own
    say.say(f"The work runs on the {device.type.upper()}.")
    say.event("start", config=cfg.to_dict())
    if cfg.backend == "ray":  # an address that does not answer is said now, not after the first phases
        check_ray_address(cfg.ray_address)
    remove_leftovers(p, say)
    with say.phase("Checking prerequisites"):
        demos = ensure_prerequisites(cfg, say)
    baseline = human_baseline(p.human_demos)
    say.say(baseline.sentence)  # here, while the listener has time: the plan and the first iteration follow at once
    record = RunRecord.resume(p, say.say)
    resumed = record is not None
    if record is None:
        record = start_record(cfg, say, device, baseline.score)
    else:
        resume_record(cfg, record, say, device)
    return Begun(record, demos, baseline, device, resumed)


def remove_leftovers(p, say: narrate.Narrator) -> None:
    leftovers = [f for d in (p.workdir / "data", p.logs_dir) if d.exists() for f in d.rglob(".*.tmp")]
    for f in leftovers:
        f.unlink()
    if leftovers:
        say.say(f"Removed {len(leftovers)} unfinished temporary files left by an interrupted run.")


def ensure_prerequisites(cfg: TrainConfig, say: narrate.Narrator) -> dict:
    """Demonstrations and the imitation policy; on a fresh folder both are made, and said to be scripted."""
    p = cfg.paths
    if not p.human_demos.exists():
        pushed = (f" In about {round(100 * cfg.mc_perturbed_share)} percent of them, 3 random moves push it off its "
                  "path, to show how it plays where its proof was lost.") if cfg.mc_perturbed_share > 0 else ""
        say.say(f"No demonstrations were found at {rel(cfg, p.human_demos)}, so the built-in scripted player will record "
                f"{cfg.imitation_demos} games. These are scripted demonstrations, not human ones.{pushed}")
        with say.phase("Recording scripted demonstrations"):
            demos = record_scripted(cfg.imitation_demos, grid_size=cfg.grid_size,
                                    seed=first_game(Stream.DEMONSTRATIONS, cfg.seed), narrator=say,
                                    perturbed_share=cfg.mc_perturbed_share)
            datasets.save_dataset(p.human_demos, demos)
    demos = datasets.load_dataset(p.human_demos, grid_size=cfg.grid_size)
    say.say(f"Demonstrations: {datasets.num_episodes(demos)} {demos['source']} games with "
            f"{narrate.count(datasets.num_samples(demos), 'move')}, from {rel(cfg, p.human_demos)}.")
    if not p.imitation_policy.exists():
        say.say(f"No imitation policy was found at {rel(cfg, p.imitation_policy)}, so one will be trained on the "
                f"{demos['source']} demonstrations.")
        with say.phase("Imitation training", say_duration=False):  # train_imitation says its own time
            policy, report = train_imitation(demos, epochs=cfg.imitation_epochs, batch_size=cfg.batch_size,
                                             seed=cfg.seed, device=cfg.device, narrator=say,
                                             model_config={"hidden": cfg.policy_hidden, "layers": cfg.policy_layers})
            save_policy(policy, p.imitation_policy, iteration=0, demo_source=str(demos["source"]),
                        val_accuracy=float(report.val_accuracy))
    return demos


def bootstrap(cfg: TrainConfig, say: narrate.Narrator, device) -> tuple[Path, dict, dict]:
    """Evaluate every checkpoint on the same seeded episodes; the best (its path, its fast and full evaluations)
    becomes data/policy_mc.pt when iteration 0 is committed."""
    p = cfg.paths
    paths = [p.mc_policy, *sorted(p.models_dir.glob("*.pt")), p.imitation_policy]
    paths = [path for i, path in enumerate(paths) if path.exists() and path not in paths[:i]]
    candidates: list[Candidate] = []
    say.say(f"Bootstrapping: evaluating {narrate.plural(len(paths), 'candidate checkpoint')} on the same "
            f"{cfg.fast_eval_episodes} seeded games.", detail=True)
    for path in paths:
        try:
            policy = load_policy(path, device=device, grid_size=cfg.grid_size)
        except CheckpointError as exc:
            say.say(f"Skipping a candidate: {exc}", detail=True)
            candidates.append(Candidate(path, None, str(exc)))
            continue
        ev = evaluate(policy, cfg, cfg.fast_eval_episodes, say)
        candidates.append(Candidate(path, ev["mean_score"]))
        say.say(f"Candidate {path.name} scores {ev['mean_score']:.1f} on average and fills "
                f"{100 * ev['win_rate']:.0f} percent of boards.", detail=True)
    best = pick_best(candidates)
    if best is None:
        raise CheckpointError(f"No usable checkpoint was found; delete {rel(cfg, p.imitation_policy)} and run again "
                              "to retrain it.")
    say.say(f"The best candidate is {rel(cfg, best.path)}, with a mean score of {best.mean_score:.1f}.", detail=True)
    if best.path != p.mc_policy:
        say.say(f"It is copied to {rel(cfg, p.mc_policy)}.", detail=True)
    policy = load_policy(best.path, device=device, grid_size=cfg.grid_size)
    fast = evaluate(policy, cfg, cfg.fast_eval_episodes, say)
    full = evaluate(policy, cfg, cfg.eval_episodes, say)
    say.say(f"The starting policy, on {narrate.count(cfg.eval_episodes, 'game')}: {speak_score(full)}.")
    return best.path, fast, full


def start_record(cfg: TrainConfig, say: narrate.Narrator, device, baseline: float) -> RunRecord:
    """A fresh folder: bootstrap, and commit the pick as iteration 0."""
    old = set_aside(cfg.paths.history)  # a history without a state: an earlier run whose state was moved away
    if old is not None:
        say.say(f"A history without a run state was found; it was kept as {old.name}, and this run starts a new one.")
    with say.phase("Bootstrapping"):
        best, fast, full = bootstrap(cfg, say, device)
    state = RunState(mc_K=cfg.mc_K, mc_H=cfg.mc_H, next_iteration=0, fast_scores=fast["scores"].tolist(),
                     full_scores=full["scores"].tolist(), fast_lengths=fast["lengths"].tolist(),
                     full_lengths=full["lengths"].tolist(), eval_seed=eval_seed(cfg), grid_size=cfg.grid_size,
                     reward=cfg.reward, human_baseline=baseline)
    record = RunRecord(cfg.paths, state, hist.empty_history(baseline))
    write = None if best == cfg.paths.mc_policy else (lambda path: copy_atomic(best, path))
    record.commit(0, history_row(full, True, state.mc_K, state.mc_H, False, cfg.include_human_data,
                                 "the starting policy, chosen by bootstrapping."), elapsed_minutes=0.0,
                  write_policy=write)
    return record


def resume_record(cfg: TrainConfig, record: RunRecord, say: narrate.Narrator, device) -> None:
    """Check the folder's record fits this run, put back a policy an interrupted iteration left, say the rule, and
    measure the current policy on this run's games when the saved scores were measured on others."""
    p, state = cfg.paths, record.state
    if (state.grid_size, state.reward) != (cfg.grid_size, cfg.reward):
        raise RunStateError(
            f"{rel(cfg, p.run_state)} belongs to a run on a {state.grid_size} by {state.grid_size} board with the "
            f"{state.reward} reward; use the same --grid-size and --reward, or another --workdir."
        )
    if state.next_iteration > cfg.num_iterations:
        return
    if not record.policy_intact():
        say.say(f"The last run stopped in the middle of iteration {state.next_iteration}, so {rel(cfg, p.mc_policy)} is "
                f"restored from {p.iteration_model(state.next_iteration - 1).name}.")
        record.restore_policy()
    demos = ("no longer used" if not state.use_human_data else "in use" if cfg.include_human_data else
             "left out of this command's iterations by --no-include-human-data")
    say.say(f"Resuming at iteration {state.next_iteration} of {cfg.num_iterations}, with K {state.mc_K}, "
            f"H {state.mc_H}, a low-improvement streak of {state.low_improvement_streak}, and demonstrations {demos}.")
    if (cfg.mc_K, cfg.mc_H) != (state.mc_K, state.mc_H):
        say.say(f"The saved K {state.mc_K} and H {state.mc_H} continue this run, as its own growth rule left them; "
                f"the K {cfg.mc_K} and H {cfg.mc_H} of this command are not used. To search with them, start in "
                "another --workdir.")
    measure_on_these_games(cfg, record, say, device)


def measure_on_these_games(cfg: TrainConfig, record: RunRecord, say: narrate.Narrator, device) -> None:
    """A rerun with another --seed, --fast-eval-episodes or --eval-episodes plays other games than the saved scores
    were measured on (so does a run saved by a version whose seed sets could meet): the current policy plays this
    run's fast games now (its full ones when a full evaluation needs them), so every comparison stays on the same
    games. The new scores are saved with the next commit."""
    state, seed = record.state, eval_seed(cfg)
    old_seed = None if state.eval_seed is None else run_seed_of(state.eval_seed)
    flags = [flag for flag, changed in (("--seed", state.eval_seed != seed and old_seed is not None),
                                         ("--fast-eval-episodes", len(state.fast_scores) != cfg.fast_eval_episodes),
                                         ("--eval-episodes", len(state.full_scores) not in (0, cfg.eval_episodes)))
             if changed]
    if not flags and state.eval_seed == seed:
        return
    why = f"this run's {' and '.join(flags)} ask for others" if flags else "this run evaluates on its own games"
    say.say(f"The saved scores of the current policy were measured {measured_on(state, old_seed)}; {why}, so the "
            f"current policy first plays this run's {narrate.count(cfg.fast_eval_episodes, 'fast game')}, and its full "
            "games when a full evaluation needs them.")
    current = load_policy(cfg.paths.mc_policy, device=device, grid_size=cfg.grid_size)
    fast = evaluate(current, cfg, cfg.fast_eval_episodes, say)
    state.fast_scores, state.fast_lengths = fast["scores"].tolist(), fast["lengths"].tolist()
    if state.eval_seed != seed or len(state.full_scores) != cfg.eval_episodes:
        state.full_scores, state.full_lengths = [], []
    state.eval_seed = seed


def measured_on(state: RunState, old_seed: int | None) -> str:
    """The games the saved scores came from, as heard: a --seed of this version, or an earlier version's games."""
    if state.eval_seed is None:
        return "on games this version did not record"
    games = (f"on {narrate.count(len(state.fast_scores), 'fast game')} and "
             f"{narrate.count(len(state.full_scores), 'full game')}")
    if old_seed is None:
        return f"{games} from game {state.eval_seed:,}, which an earlier version chose"
    return f"{games} of --seed {old_seed}"
