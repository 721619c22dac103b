"""Train a Snake policy: imitation first, then iterative Monte Carlo self-improvement, narrated for the ear.

    python iterative_train.py            # trains; Ctrl-C any time; run it again to resume

Reads top to bottom like the seed document: prerequisites, bootstrap, the demonstrations' baseline, banner, then per iteration
self-play and the hard positions, training, evaluation against the policy it would replace, the decision, and one
commit; a summary at the end. This module does; decide.py decides (pure functions); run_state.py remembers.
"""

from __future__ import annotations

import functools
import signal
import sys
import time
from pathlib import Path

import numpy as np
import torch

from snake_mc.common.cli import signals_as_stops
from snake_mc.common.constants import HARD_WORK_PER_S, MAX_H, MAX_K, SEARCH_WORK_PER_S
from snake_mc.common.seeds import Stream, first_game, run_seed_of
from snake_mc.common.storage import NotOurFileError, copy_atomic, file_failure
from snake_mc.game import datasets
from snake_mc.game.scripted import record_scripted
from snake_mc.learn.baseline import human_baseline
from snake_mc.learn.learning import train_imitation, train_mc
from snake_mc.learn.network import CheckpointError, load_policy, resolve_device, save_policy
from snake_mc.run import history as hist
from snake_mc.run.config import TrainConfig, parse_config
from snake_mc.run.decide import Candidate, Comparison, Rules, Standing, decide, full_eval_reason, pick_best
from snake_mc.run.run_state import RunRecord, RunState, RunStateError, exclusive_run, set_aside
from snake_mc.search.evaluation import evaluate_policy
from snake_mc.search.hard_positions import HardPositionSettings, hard_positions
from snake_mc.search.rollouts import SearchSettings, usable_cores
from snake_mc.search.self_play import SelfPlayError, check_ray_address, generate_self_play_data
from snake_mc.speech import narrate
from visualize_training import plot_history


# ----- helpers ---------------------------------------------------------------------------------------------------
def seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)


def eval_seed(cfg: TrainConfig) -> int:
    """The seed of the first game of this run's evaluations (fast and full games start at the same seed): the
    decisions' stream, which no other stream, run seed or fixed set reaches (snake_mc/common/seeds.py)."""
    return first_game(Stream.DECISIONS, cfg.seed)


def evaluate(policy, cfg: TrainConfig, episodes: int, narrator: narrate.Narrator) -> dict:
    return evaluate_policy(policy, episodes, grid_size=cfg.grid_size, seed=eval_seed(cfg), reward=cfg.reward,
                           narrator=narrator)


def rel(cfg: TrainConfig, path: Path) -> str:
    """A file named as the listener knows it: relative to the work folder (data/policy_mc.pt)."""
    try:
        return str(Path(path).relative_to(cfg.paths.workdir))
    except ValueError:
        return str(path)


def speak_score(ev: dict) -> str:
    """An evaluation as heard: the score, the boards filled, and (once a policy fills boards) how fast it eats."""
    mpa = ev.get("moves_per_apple", np.nan)
    speed = f", {mpa:.1f} moves per apple" if np.isfinite(mpa) else ""
    return (f"mean score {ev['mean_score']:.1f}, {100 * ev['win_rate']:.0f} percent of boards filled, standard "
            f"deviation {ev['std_score']:.1f}, mean length {narrate.count(round(ev['mean_length']), 'move')}{speed}")


def save_plots(cfg: TrainConfig, say: narrate.Narrator) -> None:
    p = cfg.paths
    try:
        plot_history(p.history, p.progress_png, p.summary_txt)
    except Exception as exc:  # a plot must never stop training
        say.say(f"The progress plot could not be drawn ({type(exc).__name__}: {exc}); training goes on.")


def record_video(cfg: TrainConfig, policy, iteration: int, say: narrate.Narrator) -> None:
    from video_recorder import record_best_episode

    record_best_episode(policy, cfg.paths.videos_dir / f"iter_{iteration}", episodes=cfg.video_episodes,
                        grid_size=cfg.grid_size, seed=eval_seed(cfg), narrator=say)


# ----- the run -----------------------------------------------------------------------------------------------------
def ensure_prerequisites(cfg: TrainConfig, say: narrate.Narrator) -> dict:
    """Demonstrations and the imitation policy; on a fresh folder both are made, and said to be scripted."""
    p = cfg.paths
    if not p.human_demos.exists():
        say.say(f"No demonstrations were found at {rel(cfg, p.human_demos)}, so the built-in scripted player will record "
                f"{cfg.imitation_demos} games. These are scripted demonstrations, not human ones.")
        with say.phase("Recording scripted demonstrations"):
            demos = record_scripted(cfg.imitation_demos, grid_size=cfg.grid_size,
                                    seed=first_game(Stream.DEMONSTRATIONS, cfg.seed), narrator=say)
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
    say.say(f"Iteration 0, the starting policy, over {narrate.count(cfg.eval_episodes, 'game')}: {speak_score(full)}.")
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


def say_plan(cfg: TrainConfig, state: RunState, baseline, say: narrate.Narrator, resumed: bool = False) -> None:
    """The plan in full at a run's start; on a resume one sentence (train.log keeps the full plan of the start)."""
    say.say(baseline.sentence)
    if resumed:
        say.say(f"The plan is the one this run began with, for iterations {state.next_iteration} to "
                f"{cfg.num_iterations}; {rel(cfg, cfg.paths.train_log)} has it in full.")
        return
    # The banner in two sentences: a listener heard 7 at once here and fell 80 seconds behind the run.
    say.say(f"Plan: iterations {state.next_iteration} to {cfg.num_iterations}, each with {cfg.mc_episodes} self-play "
            f"games searched with K {state.mc_K} and H {state.mc_H} (growing by {cfg.mc_K_step} and {cfg.mc_H_step} "
            f"after {cfg.mc_adapt_patience} iterations that improve by less than {cfg.mc_adapt_threshold:g}), on "
            f"{narrate.plural(cfg.mc_num_workers, 'worker process', 'worker processes')}; training uses the data of "
            f"the latest {narrate.plural(cfg.mc_reuse_iters, 'iteration')} for {narrate.plural(cfg.train_epochs, 'epoch')}.")
    say.say(f"Each new policy plays {narrate.count(cfg.fast_eval_episodes, 'game')}, and "
            f"{narrate.count(cfg.eval_episodes, 'game')} every {cfg.eval_full_every} iterations or when it gains or "
            f"drops, on the same games as the one it would replace, and is rolled back only when it fills fewer "
            f"boards, scores lower, or takes more moves per apple, by more than {cfg.rollback_z:g} standard errors.")
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


def make_data(cfg: TrainConfig, record: RunRecord, iteration: int, device, say: narrate.Narrator) -> list[str]:
    """This iteration's data (search games, then the searched positions before the policy's losses), archived,
    and the latest `mc_reuse_iters` archives joined into data/mc_demos.npz, which training reads (`train`). Returns
    the archive list for the commit to record."""
    p, state = cfg.paths, record.state
    last = {key: float(record.history[key][-1]) for key in ("mean_length", "win_rate")} if len(
        record.history["iteration"]) else {"mean_length": float(cfg.grid_size**3), "win_rate": 0.0}
    parts = [self_play(cfg, record, iteration, device, say, last)]
    if cfg.hard_games:
        parts.append(hard_data(cfg, iteration, device, say, last))
    datasets.save_dataset(p.iteration_archive(iteration), datasets.concat_datasets(parts, source="mc"))
    del parts  # memory: this iteration's data is on disk now, and read back below with the others
    name = str(p.iteration_archive(iteration).relative_to(p.workdir))
    archived = [f for f in state.archived_mc_files if f != name] + [name]
    join_archives(cfg, archived[-cfg.mc_reuse_iters:], say)
    return archived


def self_play(cfg: TrainConfig, record: RunRecord, iteration: int, device, say: narrate.Narrator,
              last: dict) -> dict:
    """This iteration's search games, with the time they are expected to take said first."""
    state = record.state
    moves = int(cfg.mc_episodes * last["mean_length"])  # the current policy's games last about as long as its search's
    work = moves * state.mc_K * state.mc_H  # every move is searched, in tour order too
    say.expect(f"Self-play: {cfg.mc_episodes} games, {narrate.roughly(moves, 'move')}, at K {state.mc_K} and "
               f"H {state.mc_H}", say.expected_seconds("search", work, SEARCH_WORK_PER_S))
    with say.phase("Self-play", say_duration=False) as ev:  # generate_self_play_data narrates start and end
        search = SearchSettings(K=state.mc_K, H=state.mc_H, temperature=cfg.mc_temperature, margin=cfg.mc_margin,
                                trap_check=cfg.mc_trap_check, threads=cfg.mc_search_threads or None,
                                detour_rollouts=cfg.mc_detours)
        games, stats = generate_self_play_data(
            str(cfg.paths.mc_policy), cfg.mc_episodes, search, num_workers=cfg.mc_num_workers,
            seed=first_game(Stream.SELF_PLAY, cfg.seed, iteration), grid_size=cfg.grid_size,
            reward=cfg.reward, device=str(device), backend=cfg.backend, ray_address=cfg.ray_address, narrator=say,
            worker_timeout_s=cfg.mc_worker_timeout, perturbed_share=cfg.mc_perturbed_share,
            expected_moves=moves if len(record.history["iteration"]) else None)
        ev.update(iteration=iteration, **{k: v for k, v in stats.items() if np.isscalar(v)})
    say.measured("search", stats["moves"] * state.mc_K * state.mc_H, stats.get("seconds", 0.0))
    return games


def hard_data(cfg: TrainConfig, iteration: int, device, say: narrate.Narrator, last: dict) -> dict:
    """The searched positions before the policy's losses, with what was found said aloud."""
    settings = HardPositionSettings(games=cfg.hard_games, rewind=cfg.hard_rewind, K=cfg.hard_K, H=cfg.hard_H,
                                    margin=cfg.hard_margin)
    # The policy loses about as often as it did in its last evaluation, and each loss gives `hard_rewind` moves.
    positions = int(cfg.hard_games * (1 - last["win_rate"]) * min(cfg.hard_rewind, last["mean_length"]))
    searched = (f", {narrate.roughly(positions, 'move')}, searched with {cfg.hard_K} rollouts of {cfg.hard_H} moves"
                if positions else f", searched with {cfg.hard_K} rollouts of {cfg.hard_H} moves")
    say.expect(f"Finding the moves that lose games: {cfg.hard_games:,} games with the policy alone, then the last "
               f"{cfg.hard_rewind} moves before each loss{searched}",
               say.expected_seconds("hard", positions * cfg.hard_K * cfg.hard_H, HARD_WORK_PER_S))
    with say.phase("Hard positions") as ev:
        policy = load_policy(cfg.paths.mc_policy, device=device, grid_size=cfg.grid_size)
        hard, found = hard_positions(policy, settings, cfg.grid_size, reward=cfg.reward,
                                     seed=first_game(Stream.HARD_POSITIONS, cfg.seed, iteration),
                                     threads=cfg.mc_search_threads or usable_cores(), narrator=say)
        # Said aloud: the phase's finding, and news after its last progress sentence, before the data is saved.
        if found["lost"]:
            say.say(f"The policy alone lost {found['lost']:,} of {found['games']:,} games ({found['starved']:,} by "
                    f"starving); the search overruled it in {found['overruled']:,} of "
                    f"{narrate.count(found['positions'], 'move')} before those losses.")
        else:
            say.say(f"The policy alone lost none of {found['games']:,} games, so there is no loss to learn from.")
        ev.update(iteration=iteration, **{k: v for k, v in found.items() if np.isscalar(v)})
    say.measured("hard", found["positions"] * cfg.hard_K * cfg.hard_H, found["seconds"])
    return hard


def join_archives(cfg: TrainConfig, names: list[str], say: narrate.Narrator) -> None:
    """The archives named (relative to the work folder) joined into data/mc_demos.npz; a lost or damaged one is left
    out and said."""
    p = cfg.paths
    joined = []
    for name in names:
        try:
            joined.append(datasets.load_dataset(p.workdir / name, grid_size=cfg.grid_size))
        except datasets.DatasetError as exc:  # an older archive lost or damaged: train without it, and say so
            say.say(f"The self-play archive {name} is left out of training: {exc}")
    count = len(joined)
    mc = datasets.concat_datasets(joined, source="mc")
    del joined
    datasets.save_dataset(p.mc_demos, mc)
    say.say(f"Training data from self-play: the latest {narrate.plural(count, 'iteration')}, "
            f"{narrate.count(datasets.num_samples(mc), 'move')}, joined into {rel(cfg, p.mc_demos)}.", detail=True)


def train(cfg: TrainConfig, record: RunRecord, demos: dict, iteration: int, device, say: narrate.Narrator) -> tuple:
    """A copy of the current policy trained on data/mc_demos.npz, the self-play data `make_data` joined (and the
    demonstrations while they are used)."""
    mc = datasets.load_dataset(cfg.paths.mc_demos, grid_size=cfg.grid_size)
    use_human = record.state.use_human_data and cfg.include_human_data
    source = f"{demos['source']} demonstrations plus self-play data" if use_human else "self-play data alone"
    with say.phase("Training", f"Training on {source} for {narrate.plural(cfg.train_epochs, 'epoch')}.",
                   say_duration=False) as ev:  # train_mc says its own time
        current = load_policy(cfg.paths.mc_policy, device=device, grid_size=cfg.grid_size)
        trained, report = train_mc(current, demos if use_human else None, mc, mc_weight=cfg.mc_weight,
                                   include_human_data=use_human, epochs=cfg.train_epochs, batch_size=cfg.batch_size,
                                   lr=cfg.lr, seed=cfg.seed + iteration, target=cfg.mc_target, device=cfg.device,
                                   narrator=say)
        ev.update(iteration=iteration, val_accuracy=report.val_accuracy)
    return trained, use_human


def judge(cfg: TrainConfig, record: RunRecord, trained, iteration: int, device,
          say: narrate.Narrator) -> tuple[dict, dict | None, Comparison, Comparison | None, dict[str, list[int]]]:
    """Evaluate the new policy against the one it would replace, on the same games (decide.py says which). Also
    returns the replaced policy's scores and episode lengths on the full games (full_scores, full_lengths), measured
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
            return fast_ev, None, fast, None, replaced
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
    return fast_ev, full_ev, fast, full, replaced


def run(cfg: TrainConfig, say: narrate.Narrator) -> int:
    """The loop: self-play, train, compare with the policy it would replace, keep or roll back, commit."""
    p = cfg.paths
    device = resolve_device(cfg.device)
    seed_everything(cfg.seed)
    torch.set_num_threads(cfg.threads)  # self-play workers and the hard-position search set their own
    say.say(f"Snake Monte Carlo training starts in {p.workdir.resolve()}, on a {cfg.grid_size} by {cfg.grid_size} "
            f"board, using the {device.type.upper()}.")
    say.event("start", config=cfg.to_dict())
    if cfg.backend == "ray":  # an address that does not answer is said now, not after the first phases
        check_ray_address(cfg.ray_address)
    remove_leftovers(p, say)
    with say.phase("Checking prerequisites"):
        demos = ensure_prerequisites(cfg, say)
    baseline = human_baseline(p.human_demos)
    record = RunRecord.resume(p, say.say)
    resumed = record is not None
    if record is None:
        record = start_record(cfg, say, device, baseline.score)
    else:
        resume_record(cfg, record, say, device)
    if record.state.next_iteration > cfg.num_iterations:
        return finish(cfg, record, say, already_done=True)
    say_plan(cfg, record.state, baseline, say, resumed)
    for iteration in range(record.state.next_iteration, cfg.num_iterations + 1):
        clock = time.perf_counter()
        say.say(f"Iteration {iteration} of {cfg.num_iterations} begins{time_left(record.history, cfg, iteration)}.")
        say.event("iteration_start", iteration=iteration, mc_K=record.state.mc_K, mc_H=record.state.mc_H)
        archived = make_data(cfg, record, iteration, device, say)
        trained, used_human = train(cfg, record, demos, iteration, device, say)
        fast_ev, full_ev, fast, full, replaced = judge(cfg, record, trained, iteration, device, say)
        decision = decide(standing_of(cfg, record.state), fast, full, rules_of(cfg, record.state))
        for sentence in decision.sentences:
            say.say(sentence)
        for sentence in decision.details:
            say.say(sentence, detail=True)
        if say.brief:  # --quiet: the decision in one sentence is all an iteration says
            first = decision.sentences[0]
            say.say(f"In iteration {iteration} of {cfg.num_iterations}, {first[:1].lower()}{first[1:]}", essential=True)
        c = decision.compared
        say.event("decision", iteration=iteration, kept=decision.keep, gain=c.gain, se=c.se, games=c.games,
                  fill=c.new_fill, fill_gain=c.fill_gain, moves_per_apple=c.new_moves_per_apple,
                  speed_gain=c.speed_gain, speed_se=c.speed_se, speed_games=c.speed_games, full_eval=full is not None)
        scores = replaced  # a rolled-back iteration still learned the kept policy's full scores and lengths
        write = None  # the trained policy reaches data/policy_mc.pt (in the commit) only when kept
        if decision.keep:
            write = functools.partial(save_policy, trained, iteration=iteration, eval={"mean_score": c.new_mean})
            scores = {"fast_scores": fast_ev["scores"].tolist(), "fast_lengths": fast_ev["lengths"].tolist(),
                      "full_scores": full_ev["scores"].tolist() if full_ev is not None else [],
                      "full_lengths": full_ev["lengths"].tolist() if full_ev is not None else []}
        reported = full_ev if full_ev is not None else fast_ev
        row = history_row(reported, full is not None, decision.mc_K, decision.mc_H, not decision.keep, used_human,
                          decision.summary, c)
        elapsed = record.state.elapsed_minutes + (time.perf_counter() - clock) / 60
        record.commit(iteration, row, elapsed, write_policy=write, mc_K=decision.mc_K, mc_H=decision.mc_H,
                      low_improvement_streak=decision.low_improvement_streak,
                      use_human_data=decision.use_human_data, archived_mc_files=archived, **scores)
        after_iteration(cfg, iteration, elapsed, say)
    return finish(cfg, record, say)


# ----- the loop's small parts ------------------------------------------------------------------------------------
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


def remove_leftovers(p, say: narrate.Narrator) -> None:
    leftovers = [f for d in (p.workdir / "data", p.logs_dir) if d.exists() for f in d.rglob(".*.tmp")]
    for f in leftovers:
        f.unlink()
    if leftovers:
        say.say(f"Removed {len(leftovers)} unfinished temporary files left by an interrupted run.")


def time_left(history: dict, cfg: TrainConfig, iteration: int) -> str:
    """', with about 12 minutes left for the run': the iterations still to come (this one included) at the pace of
    the last three timed ones; before any was timed, that the figure comes after this one."""
    minutes = np.diff(np.asarray(history["elapsed_minutes"], dtype=float)[np.asarray(history["iteration"]) > 0],
                      prepend=0.0) if len(history["iteration"]) else np.zeros(0)
    minutes = minutes[minutes > 0][-3:]
    if not len(minutes):
        return "; the time left for the run will be known once it has been timed"
    left = float(minutes.mean()) * 60 * (cfg.num_iterations - iteration + 1)
    return f", with {narrate.about(left)} left for the run"


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
        say.say(f"The policy is in {rel(cfg, cfg.paths.mc_policy)}; every iteration's story is in "
                f"{rel(cfg, cfg.paths.summary_csv)} and {rel(cfg, cfg.paths.train_log)}, and python visualize_training.py "
                "says it again. To train further, run again with a higher --iterations.", essential=True)
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


class Stopped(KeyboardInterrupt):
    """SIGTERM or SIGHUP: the same clean stop as Ctrl-C, with the exit status a shell expects (128 + the signal)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _stop_on_signal(signum: int, frame: object) -> None:
    raise Stopped(signum)


def _what_is_saved(p) -> str:  # noqa: ANN001 - the run's Paths
    """What a stopped run leaves, truly: the last completed iteration, or (before the first) the files it finished."""
    if p.run_state.exists():
        return "Everything up to the last completed iteration is saved; run the same command again to resume."
    return ("No iteration was completed yet; the files it finished writing are kept; run the same command again to "
            "start from them.")


def main(argv: list[str] | None = None) -> int:
    cfg = parse_config(argv)
    p = cfg.paths
    try:
        p.logs_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        print(f"Training cannot start: the work folder {p.workdir} cannot be written ({exc.strerror or exc}); "
              "choose another --workdir.", file=sys.stderr)
        return 2
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _stop_on_signal)
    try:
        with exclusive_run(p):  # before the log is opened: a refused run writes nothing into the running run's files
            return narrated_run(cfg)
    except RunStateError as exc:  # only the lock's (the folder is another run's, or its lock file is not ours)
        say = narrate.Narrator(progress=cfg.progress, details=cfg.verbose, brief=cfg.quiet)  # the console alone
        say.say(f"Training stopped: {exc}", essential=True)
        say.close()
        return 2


def narrated_run(cfg: TrainConfig) -> int:
    """The run with its narrator (console, train.log, events.jsonl), every way it can end said in one sentence."""
    p = cfg.paths
    try:
        say = narrate.Narrator(log_path=p.train_log, events_path=p.events, progress=cfg.progress,
                               details=cfg.verbose, brief=cfg.quiet)
    except NotOurFileError as exc:
        print(f"Training cannot start: {exc.filename} cannot be used, because {exc.strerror}; remove it and run again.",
              file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"Training cannot start: the work folder {p.workdir} cannot be written ({exc.strerror or exc}: "
              f"{exc.filename}); make it writable or choose another --workdir.", file=sys.stderr)
        return 2
    narrate.set_narrator(say)
    try:
        with signals_as_stops():  # a signal that arrived inside compiled code is a stop too
            return run(cfg, say)
    except KeyboardInterrupt as exc:
        how = "stopped by a signal" if isinstance(exc, Stopped) else "interrupted"
        say.say(f"Training was {how}. {_what_is_saved(p)}", essential=True)
        return 128 + exc.signum if isinstance(exc, Stopped) else 130
    except (CheckpointError, datasets.DatasetError, RunStateError, ValueError) as exc:  # bad input: a file or a flag
        say.say(f"Training stopped: {exc}", essential=True)
        return 2
    except SelfPlayError as exc:  # a failure, not bad input: the state is the last completed iteration's
        say.say(f"Training stopped: {str(exc).rstrip('.')}; run the same command again to resume.", essential=True)
        return 1
    except OSError as exc:
        say.say(f"Training stopped: {file_failure(exc)}, then run the same command again to resume.", essential=True)
        return 1
    except Exception as exc:  # an unexpected failure: one sentence, and the traceback only when asked for
        if cfg.debug:
            raise
        saved = _what_is_saved(p).split(";")[0]
        say.say(f"Training stopped on an unexpected error ({type(exc).__name__}: {str(exc)[:200]}); "
                f"{saved[:1].lower()}{saved[1:]}. Run again with --debug to see where it happened.", essential=True)
        return 1
    finally:
        say.close()


if __name__ == "__main__":
    sys.exit(main())
