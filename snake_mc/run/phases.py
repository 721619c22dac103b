"""An iteration's work before its judgement: self-play and the hard positions (the data), then training.

Each phase says what it expects before it starts and what it found when it ends.
"""

from __future__ import annotations

import numpy as np

from snake_mc.common.constants import HARD_WORK_PER_S, SEARCH_WORK_PER_S
from snake_mc.common.seeds import Stream, first_game
from snake_mc.game import datasets
from snake_mc.learn.learning import train_mc
from snake_mc.learn.network import load_policy
from snake_mc.run.config import TrainConfig
from snake_mc.run.measure import rel
from snake_mc.run.run_state import RunRecord
from snake_mc.search.hard_positions import HardPositionSettings, hard_positions
from snake_mc.search.rollouts import SearchSettings, usable_cores
from snake_mc.search.self_play import generate_self_play_data
from snake_mc.speech import narrate


def search_settings(cfg: TrainConfig, K: int, H: int) -> SearchSettings:
    """Self-play's search, from the configuration (the one source of every default) and the run's current K and H."""
    return SearchSettings(K=K, H=H, temperature=cfg.mc_temperature, discount=cfg.mc_discount, margin=cfg.mc_margin,
                          trap_check=cfg.mc_trap_check, threads=cfg.mc_search_threads or None,
                          detour_rollouts=cfg.mc_detours)


def hard_position_settings(cfg: TrainConfig) -> HardPositionSettings:
    """The search of the positions before the policy's losses, from the configuration."""
    return HardPositionSettings(games=cfg.hard_games, rewind=cfg.hard_rewind, K=cfg.hard_K, H=cfg.hard_H,
                                margin=cfg.hard_margin)


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
        search = search_settings(cfg, state.mc_K, state.mc_H)
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
    settings = hard_position_settings(cfg)
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
