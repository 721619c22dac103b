"""Train a Snake policy: imitation first, then iterative Monte Carlo self-improvement, narrated for the ear.

    python iterative_train.py            # trains; Ctrl-C any time; run it again to resume

Reads top to bottom like the seed document: prerequisites, bootstrap, human baseline, banner, then per iteration
self-play, training, adaptive evaluation, the decisions (rollback, K/H growth, human-data switch), saving; and a
summary at the end. Decisions are the small pure functions just below; mechanics live in the other modules.
"""

from __future__ import annotations

import csv
import io
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

import datasets
import narrate
from config import TrainConfig, parse_config
from evaluate import evaluate_policy
from learning import train_imitation, train_mc
from mc_search import generate_self_play_data
from play import human_baseline, record_scripted
from policy import CheckpointError, load_policy, resolve_device, save_policy
from run_state import RunState, RunStateError, file_sha256
from storage import copy_atomic, write_text_atomic
from visualize_training import append_iteration, empty_history, load_history, plot_history, save_history

EVAL_SEED_BASE = 1_000_000_000  # evaluation episodes never share a seed with self-play games
SELF_PLAY_SEEDS_PER_ITERATION = 1_000_000


# ----- decisions (pure functions; the tests drive them directly) ----------------------------------------------
@dataclass
class Candidate:
    path: Path
    mean_score: float | None = None  # None when the file could not be used
    problem: str = ""


def pick_best(candidates: list[Candidate]) -> Candidate | None:
    """The usable candidate with the highest score; earlier candidates win ties (data/policy_mc.pt comes first)."""
    usable = [c for c in candidates if c.mean_score is not None]
    return max(usable, key=lambda c: c.mean_score, default=None) if usable else None


def full_eval_reason(iteration: int, eval_full_every: int, prior_full: float | None, fast_gain: float | None,
                     threshold: float) -> str | None:
    """Why this iteration gets a full evaluation, as a sentence fragment, or None when the fast one is enough."""
    if prior_full is None:
        return "there is no full score yet to compare with"
    if eval_full_every > 0 and iteration % eval_full_every == 0:
        return f"iteration {iteration} is a multiple of {eval_full_every}"
    if fast_gain is not None and fast_gain >= threshold:
        return f"the fast score improved by {fast_gain:.1f}, at least the threshold of {threshold:g}"
    return None


def grow_search(streak: int, improvement: float, threshold: float, patience: int, K: int, H: int,
                K_step: int, H_step: int) -> tuple[int, int, int, bool]:
    """Count low-improvement iterations; after `patience` in a row, grow K and H by their steps and restart the count."""
    if improvement >= threshold:
        return 0, K, H, False
    streak += 1
    if streak >= patience:
        return 0, K + K_step, H + H_step, True
    return streak, K, H, False


def paired_difference(new: np.ndarray, old: np.ndarray) -> tuple[float, float]:
    """Mean and standard error of per-episode differences on the same seeded episodes."""
    diff = np.asarray(new, dtype=float) - np.asarray(old, dtype=float)
    se = float(diff.std(ddof=1) / np.sqrt(len(diff))) if len(diff) > 1 else 0.0
    return float(diff.mean()), se


# ----- helpers ---------------------------------------------------------------------------------------------------
def seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)


def evaluate(policy, cfg: TrainConfig, episodes: int, narrator: narrate.Narrator) -> dict:
    return evaluate_policy(policy, episodes, grid_size=cfg.grid_size, seed=EVAL_SEED_BASE + cfg.seed,
                           reward=cfg.reward, narrator=narrator)


def speak_score(ev: dict) -> str:
    return (f"mean score {ev['mean_score']:.1f}, standard deviation {ev['std_score']:.1f}, best {int(ev['max_score'])}, "
            f"mean length {ev['mean_length']:.0f} moves")


# ----- the run -----------------------------------------------------------------------------------------------------
def ensure_prerequisites(cfg: TrainConfig, say: narrate.Narrator) -> dict:
    """Demonstrations and the imitation policy; on a fresh folder both are made, and said to be scripted."""
    p = cfg.paths
    if not p.human_demos.exists():
        say.say(f"No demonstrations were found at {p.human_demos}, so the built-in scripted player will record "
                f"{cfg.imitation_demos} games. These are scripted demonstrations, not human ones.")
        with say.phase("Recording scripted demonstrations"):
            demos = record_scripted(cfg.imitation_demos, grid_size=cfg.grid_size, seed=cfg.seed, narrator=say)
            datasets.save_dataset(p.human_demos, demos)
    demos = datasets.load_dataset(p.human_demos, grid_size=cfg.grid_size)
    say.say(f"Demonstrations: {datasets.num_episodes(demos)} {demos['source']} games with "
            f"{datasets.num_samples(demos)} moves, from {p.human_demos}.")
    if not p.imitation_policy.exists():
        say.say(f"No imitation policy was found at {p.imitation_policy}, so one will be trained on the "
                f"{demos['source']} demonstrations.")
        with say.phase("Imitation training", say_duration=False):  # train_imitation says its own time
            policy, report = train_imitation(demos, epochs=cfg.imitation_epochs, batch_size=cfg.batch_size,
                                             seed=cfg.seed, device=cfg.device, narrator=say,
                                             model_config={"hidden": cfg.policy_hidden, "layers": cfg.policy_layers})
            save_policy(policy, p.imitation_policy, iteration=0, demo_source=str(demos["source"]),
                        val_accuracy=float(report.val_accuracy))
    return demos


def bootstrap(cfg: TrainConfig, say: narrate.Narrator, device) -> tuple[dict, dict]:
    """Evaluate every checkpoint on the same seeded episodes, copy the best to data/policy_mc.pt: iteration 0."""
    p = cfg.paths
    paths = [p.mc_policy, *sorted(p.models_dir.glob("*.pt")), p.imitation_policy]
    paths = [path for i, path in enumerate(paths) if path.exists() and path not in paths[:i]]
    candidates: list[Candidate] = []
    say.say(f"Bootstrapping: evaluating {narrate.plural(len(paths), 'candidate checkpoint')} on the same "
            f"{cfg.fast_eval_episodes} seeded games.")
    for path in paths:
        try:
            policy = load_policy(path, device=device, grid_size=cfg.grid_size)
        except CheckpointError as exc:
            say.say(f"Skipping a candidate: {exc}")
            candidates.append(Candidate(path, None, str(exc)))
            continue
        ev = evaluate(policy, cfg, cfg.fast_eval_episodes, say)
        candidates.append(Candidate(path, ev["mean_score"]))
        say.say(f"Candidate {path.name} scores {ev['mean_score']:.1f} on average.")
    best = pick_best(candidates)
    if best is None:
        raise CheckpointError(f"No usable checkpoint was found; delete {p.imitation_policy} and run again to retrain it.")
    say.say(f"The best candidate is {best.path}, with a mean score of {best.mean_score:.1f}.")
    if best.path != p.mc_policy:
        copy_atomic(best.path, p.mc_policy)
        say.say(f"It was copied to {p.mc_policy}.")
    policy = load_policy(p.mc_policy, device=device, grid_size=cfg.grid_size)
    fast = evaluate(policy, cfg, cfg.fast_eval_episodes, say)
    full = evaluate(policy, cfg, cfg.eval_episodes, say)
    say.say(f"Iteration 0, the starting policy, over {cfg.eval_episodes} games: {speak_score(full)}.")
    return fast, full


def write_summary(cfg: TrainConfig, history: dict, say: narrate.Narrator) -> None:
    """One sentence per iteration, spoken and written as CSV."""
    say.say("Summary of every iteration follows.")
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["iteration", "mean_score", "std_score", "max_score", "mean_length", "full_eval", "mc_K", "mc_H",
                     "rolled_back", "used_human_data", "elapsed_minutes", "decision"])
    for i in range(len(history["iteration"])):
        # No change against the row before: fast and full scores come from different games. The decision says the
        # change that counted, measured on the same games.
        it, mean = int(history["iteration"][i]), float(history["mean_score"][i])
        kind = "full" if history["full_eval"][i] else "fast"
        say.say(f"Iteration {it}: mean score {mean:.1f} on the {kind} evaluation, best "
                f"{int(history['max_score'][i])}, K {int(history['mc_K'][i])} and H {int(history['mc_H'][i])}; "
                f"{history['decision'][i]}")
        writer.writerow([it, f"{mean:.3f}", f"{history['std_score'][i]:.3f}", int(history["max_score"][i]),
                         f"{history['mean_length'][i]:.1f}", bool(history["full_eval"][i]), int(history["mc_K"][i]),
                         int(history["mc_H"][i]), bool(history["rolled_back"][i]), bool(history["used_human_data"][i]),
                         f"{history['elapsed_minutes'][i]:.2f}", str(history["decision"][i])])
    write_text_atomic(cfg.paths.summary_csv, buffer.getvalue())
    say.say(f"The summary was also written to {cfg.paths.summary_csv}.")


def save_plots(cfg: TrainConfig, say: narrate.Narrator) -> None:
    p = cfg.paths
    try:
        plot_history(p.history, p.progress_png, p.summary_txt)
    except Exception as exc:  # a plot must never stop training
        say.say(f"The progress plot could not be drawn ({type(exc).__name__}: {exc}); training goes on.")


def record_video(cfg: TrainConfig, policy, iteration: int, say: narrate.Narrator) -> None:
    from video_recorder import record_best_episode

    record_best_episode(policy, cfg.paths.videos_dir / f"iter_{iteration}", episodes=cfg.video_episodes,
                        grid_size=cfg.grid_size, seed=EVAL_SEED_BASE + cfg.seed, narrator=say)


def join_recent_mc_data(cfg: TrainConfig, archived: list[str], say: narrate.Narrator) -> dict:
    """The latest `mc_reuse_iters` archived self-play files, joined into data/mc_demos.npz."""
    recent = archived[-cfg.mc_reuse_iters:]
    parts = [datasets.load_dataset(cfg.paths.workdir / name, grid_size=cfg.grid_size) for name in recent]
    mc = datasets.concat_datasets(parts, source="mc")
    datasets.save_dataset(cfg.paths.mc_demos, mc)
    say.say(f"Training data from self-play: the latest {narrate.plural(len(parts), 'iteration')}, "
            f"{datasets.num_samples(mc)} moves, joined into {cfg.paths.mc_demos}.")
    return mc


def run(cfg: TrainConfig, say: narrate.Narrator) -> int:
    p = cfg.paths
    device = resolve_device(cfg.device)
    seed_everything(cfg.seed)
    run_start = time.perf_counter()
    say.say(f"Snake Monte Carlo training starts in {p.workdir.resolve()}, on a {cfg.grid_size} by {cfg.grid_size} "
            f"board, using the {device.type.upper()}.")
    say.event("start", config=cfg.to_dict())
    leftovers = [f for d in (p.workdir / "data", p.logs_dir) if d.exists() for f in d.rglob(".*.tmp")]
    for f in leftovers:
        f.unlink()
    if leftovers:
        say.say(f"Removed {len(leftovers)} unfinished temporary files left by an interrupted run.")

    # 1. Prerequisites, resume or bootstrap.
    with say.phase("Checking prerequisites"):
        demos = ensure_prerequisites(cfg, say)
    baseline = human_baseline(p.human_demos)
    state = RunState.load(p.run_state) if p.run_state.exists() else None
    if state is not None:
        if (state.grid_size, state.reward) != (cfg.grid_size, cfg.reward):
            raise RunStateError(
                f"{p.run_state} belongs to a run on a {state.grid_size} by {state.grid_size} board with the "
                f"{state.reward} reward; use the same --grid-size and --reward, or another --workdir."
            )
        if state.next_iteration > cfg.num_iterations:
            say.say(f"All {cfg.num_iterations} iterations are already done. To train further, run again with "
                    f"--iterations set higher, for example --iterations {cfg.num_iterations + 5}.")
            history = load_history(p.history)
            done = history["iteration"] < state.next_iteration
            write_summary(cfg, {k: (v[done] if v.ndim else v) for k, v in history.items()}, say)
            save_plots(cfg, say)
            return 0
        last_model = p.models_dir / f"policy_iter_{state.next_iteration - 1}_mc.pt"
        if not p.mc_policy.exists() or file_sha256(p.mc_policy) != state.policy_sha256:
            say.say(f"The last run stopped in the middle of iteration {state.next_iteration}, so {p.mc_policy} is "
                    f"restored from {last_model}.")
            copy_atomic(last_model, p.mc_policy)
        history = load_history(p.history)
        keep = history["iteration"] < state.next_iteration
        history = {k: (v[keep] if k != "human_baseline" else v) for k, v in history.items()}
        say.say(f"Resuming at iteration {state.next_iteration} of {cfg.num_iterations}, with K {state.mc_K}, "
                f"H {state.mc_H}, a low-improvement streak of {state.low_improvement_streak}, and human data "
                f"{'in use' if state.use_human_data else 'no longer used'}.")
    else:
        with say.phase("Bootstrapping"):
            fast, full = bootstrap(cfg, say, device)
        state = RunState(mc_K=cfg.mc_K, mc_H=cfg.mc_H, use_human_data=cfg.include_human_data,
                         fast_scores=fast["scores"].tolist(), full_scores=full["scores"].tolist(),
                         grid_size=cfg.grid_size, reward=cfg.reward, human_baseline=baseline.score)
        copy_atomic(p.mc_policy, p.models_dir / "policy_iter_0_mc.pt")
        state.policy_sha256 = file_sha256(p.mc_policy)
        history = append_iteration(empty_history(baseline.score), iteration=0, mean_score=full["mean_score"],
                                 std_score=full["std_score"], max_score=full["max_score"],
                                 mean_length=full["mean_length"], full_eval=True, mc_K=state.mc_K, mc_H=state.mc_H,
                                 rolled_back=False, used_human_data=state.use_human_data, elapsed_minutes=0.0,
                                 decision="the starting policy, chosen by bootstrapping.")
        save_history(p.history, history)
        state.save(p.run_state)

    # 2. Baseline and banner.
    say.say(baseline.sentence)
    say.say(f"Plan: iterations {state.next_iteration} to {cfg.num_iterations}; each plays {cfg.mc_episodes} self-play "
            f"games with {state.mc_K} rollouts of {state.mc_H} moves per candidate move, growing by "
            f"{cfg.mc_K_step} and {cfg.mc_H_step} after {cfg.mc_adapt_patience} iterations in a row that improve by "
            f"less than {cfg.mc_adapt_threshold:g}.")
    trap = ("; a rollout that ends walled off from its own body counts as dead" if cfg.mc_trap_check else "")
    say.say(f"The search keeps the policy's own move unless another scores more than {cfg.mc_margin:g} "
            f"{'apple' if cfg.mc_margin == 1 else 'apples'} better or the policy's move dies in every rollout{trap}.")
    say.say(f"Self-play runs on {narrate.plural(cfg.mc_num_workers, 'worker process', 'worker processes')} with the "
            f"{cfg.backend} backend; training reuses the self-play data of the latest "
            f"{narrate.plural(cfg.mc_reuse_iters, 'iteration')} for {narrate.plural(cfg.train_epochs, 'epoch')}.")
    say.say(f"Every iteration gets a fast evaluation on {cfg.fast_eval_episodes} games; a full one on "
            f"{cfg.eval_episodes} games comes every {cfg.eval_full_every} iterations or after a fast gain of "
            f"{cfg.mc_adapt_threshold:g} or more.")

    # 3. The loop.
    for iteration in range(state.next_iteration, cfg.num_iterations + 1):
        say.say(f"Iteration {iteration} of {cfg.num_iterations} begins.")
        say.event("iteration_start", iteration=iteration, mc_K=state.mc_K, mc_H=state.mc_H)

        with say.phase("Self-play", say_duration=False) as ev:  # generate_self_play_data narrates start and end
            archive = p.mc_archive_dir / f"iter_{iteration}.npz"
            _, stats = generate_self_play_data(
                str(p.mc_policy), cfg.mc_episodes, state.mc_K, state.mc_H, num_workers=cfg.mc_num_workers,
                save_path=str(archive), seed=cfg.seed * 7919 + iteration * SELF_PLAY_SEEDS_PER_ITERATION,
                grid_size=cfg.grid_size, reward=cfg.reward, temperature=cfg.mc_temperature, margin=cfg.mc_margin,
                trap_check=cfg.mc_trap_check,
                device="cuda" if device.type == "cuda" else "cpu", backend=cfg.backend,
                ray_address=cfg.ray_address, search_threads=cfg.mc_search_threads or None, narrator=say)
            ev.update(iteration=iteration, **{k: v for k, v in stats.items() if np.isscalar(v)})
        name = str(archive.relative_to(p.workdir))
        archived = [f for f in state.archived_mc_files if f != name] + [name]
        mc = join_recent_mc_data(cfg, archived, say)

        copy_atomic(p.mc_policy, p.mc_backup)
        use_human = state.use_human_data and cfg.include_human_data
        sources = "human demonstrations plus self-play data" if use_human else "self-play data alone"
        announce = f"Training on {sources} for {narrate.plural(cfg.train_epochs, 'epoch')}."
        with say.phase("Training", announce, say_duration=False) as ev:  # train_mc says its own time
            current = load_policy(p.mc_policy, device=device, grid_size=cfg.grid_size)
            trained, report = train_mc(current, demos if use_human else None, mc, mc_weight=cfg.mc_weight,
                                       include_human_data=use_human, epochs=cfg.train_epochs,
                                       batch_size=cfg.batch_size, lr=cfg.lr, seed=cfg.seed + iteration,
                                       target=cfg.mc_target, device=cfg.device, narrator=say)
            ev.update(iteration=iteration, val_accuracy=report.val_accuracy)

        with say.phase("Evaluation", f"Fast evaluation on {cfg.fast_eval_episodes} games.") as ev:
            fast = evaluate(trained, cfg, cfg.fast_eval_episodes, say)
            fast_gain, fast_se = paired_difference(fast["scores"], state.fast_scores)
            say.say(f"Fast evaluation: {speak_score(fast)}; that is {'up' if fast_gain >= 0 else 'down'} "
                    f"{abs(fast_gain):.1f} on the same games, with a standard error of {fast_se:.1f}.")
            reason = full_eval_reason(iteration, cfg.eval_full_every, state.prior_full, fast_gain,
                                      cfg.mc_adapt_threshold)
            full = None
            if reason is not None:
                say.say(f"A full evaluation on {cfg.eval_episodes} games follows, because {reason}.")
                full = evaluate(trained, cfg, cfg.eval_episodes, say)
                gain, se = paired_difference(full["scores"], state.full_scores)
                say.say(f"Full evaluation: {speak_score(full)}; {'up' if gain >= 0 else 'down'} {abs(gain):.1f} "
                        f"on the same games, with a standard error of {se:.1f}.")
            else:
                gain = fast_gain
                say.say("No full evaluation this iteration: the fast score did not improve enough.")
            ev.update(iteration=iteration, fast_mean=fast["mean_score"], full_mean=None if full is None else full["mean_score"])

        # Decisions.
        rolled_back = gain < 0
        reported = full if full is not None else fast
        if rolled_back:
            copy_atomic(p.mc_backup, p.mc_policy)
            decision = f"the score dropped by {-gain:.1f}, so the previous policy was restored."
            say.say(f"Rollback: {decision}")
            accepted = load_policy(p.mc_policy, device=device, grid_size=cfg.grid_size)
        else:
            save_policy(trained, p.mc_policy, iteration=iteration, eval={"mean_score": reported["mean_score"]})
            decision = f"the new policy was kept, {'up' if gain > 0 else 'level'} {abs(gain):.1f}."
            say.say(f"The new policy is kept; its score changed by {gain:+.1f}.")
            accepted = trained
            state.fast_scores = fast["scores"].tolist()
            if full is not None:
                state.full_scores = full["scores"].tolist()
        say.event("decision", iteration=iteration, rolled_back=rolled_back, gain=gain, full_eval=full is not None)

        streak, K, H, grew = grow_search(state.low_improvement_streak, gain, cfg.mc_adapt_threshold,
                                         cfg.mc_adapt_patience, state.mc_K, state.mc_H, cfg.mc_K_step, cfg.mc_H_step)
        if grew:
            say.say(f"The score improved by less than {cfg.mc_adapt_threshold:g} for {cfg.mc_adapt_patience} "
                    f"iterations in a row, so the search grows: K from {state.mc_K} to {K}, H from {state.mc_H} to {H}.")
            decision += f" K and H grew to {K} and {H}."
            say.event("search_growth", iteration=iteration, mc_K=K, mc_H=H)
        elif streak:
            say.say(f"Low improvement for {streak} iteration{'s' if streak > 1 else ''} in a row, of "
                    f"{cfg.mc_adapt_patience} allowed before the search grows.")
        used_human = use_human
        accepted_score = (state.prior_full if state.full_scores else state.prior_fast) or 0.0
        if use_human and not rolled_back and accepted_score > baseline.score:
            state.use_human_data = False
            say.say(f"The policy now beats the human baseline, {accepted_score:.1f} against {baseline.score:.1f}, so "
                    f"human demonstrations are dropped from training from the next iteration on.")
            decision += " Human data was dropped: the baseline is beaten."
            say.event("human_data_dropped", iteration=iteration, score=accepted_score, baseline=baseline.score)

        # Save: checkpoint, history, plots, video, then the state file last.
        model_path = p.models_dir / f"policy_iter_{iteration}_mc.pt"
        copy_atomic(p.mc_policy, model_path)
        elapsed = state.elapsed_minutes + (time.perf_counter() - run_start) / 60
        history = append_iteration(history, iteration=iteration, mean_score=reported["mean_score"],
                                 std_score=reported["std_score"], max_score=reported["max_score"],
                                 mean_length=reported["mean_length"], full_eval=full is not None, mc_K=K, mc_H=H,
                                 rolled_back=rolled_back, used_human_data=used_human, elapsed_minutes=elapsed,
                                 decision=decision)
        save_history(p.history, history)
        save_plots(cfg, say)
        if cfg.record_videos:
            record_video(cfg, accepted, iteration, say)
        state.archived_mc_files = archived
        state.mc_K, state.mc_H, state.low_improvement_streak = K, H, streak
        state.next_iteration = iteration + 1
        state.policy_sha256 = file_sha256(p.mc_policy)
        state.elapsed_minutes = elapsed
        run_start = time.perf_counter()
        state.save(p.run_state)
        say.say(f"Iteration {iteration} is saved as {model_path.name}, after {narrate.format_seconds(elapsed * 60)} "
                f"of training in all.")

    write_summary(cfg, history, say)
    save_plots(cfg, say)
    say.say(f"Training is complete. The policy is in {p.mc_policy}, and the story of the run is in {p.summary_txt}.")
    return 0


def main(argv: list[str] | None = None) -> int:
    cfg = parse_config(argv)
    p = cfg.paths
    say = narrate.Narrator(log_path=p.train_log, events_path=p.events, progress=cfg.progress)
    narrate.set_narrator(say)
    try:
        return run(cfg, say)
    except KeyboardInterrupt:
        say.say("Training was interrupted. Everything up to the last completed iteration is saved; run the same "
                "command again to resume.")
        return 130
    except (CheckpointError, datasets.DatasetError, RunStateError, ValueError) as exc:
        say.say(f"Training stopped: {exc}")
        return 2
    finally:
        say.close()


if __name__ == "__main__":
    sys.exit(main())
