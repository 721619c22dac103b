"""A policy's best game as a video: a few seeded greedy games played in one batch, the best replayed frame by frame,
written as MP4 (imageio with its ffmpeg plugin) or, without ffmpeg, a GIF.

Used by the run (--record-videos) and by `python video_recorder.py`. Videos are optional: without imageio the recorder
says so in one sentence and returns None instead of failing the run.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from snake_mc.common.storage import atomic_path
from snake_mc.game.rules import SnakeBatch, SnakeEnv
from snake_mc.learn.network import SnakePolicy
from snake_mc.speech.narrate import Narrator, Progress, about, count, given_or_console, plural

VIDEO_FORMATS = ("mp4", "gif")
# Conservative rates for the expected duration said at the start, measured on our 2-core machine: beside one busy
# process it played 164 lockstep moves a second (a move of every game still running) and drew and encoded 80 frames
# a second; alone, several times that.
VIDEO_STEPS_PER_S = 100.0
VIDEO_FRAMES_PER_S = 50.0


def play_greedy(
    policy: SnakePolicy, episodes: int, grid_size: int, seed: int, max_steps: int | None = None,
    progress: Progress | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Scores and move counts of `episodes` greedy games (game i seeded seed + i), played in lockstep with one
    network call per move for the games still running; `progress` hears of each game that ends."""
    batch = SnakeBatch(episodes, grid_size, seeds=seed + np.arange(episodes))
    moves = np.zeros(episodes, dtype=np.int64)  # steps taken, the fatal one included (as SnakeEnv counts them)
    steps = 0
    while not batch.done.all() and (max_steps is None or steps < max_steps):
        live = np.flatnonzero(~batch.done)
        actions = np.ones(episodes, dtype=np.int64)
        now = batch.take(live)
        actions[live] = policy.act(now, greedy=True)
        batch.keep_memory_of(live, now)
        batch.step(actions)
        moves[live] += 1
        steps += 1
        if progress is not None:
            progress.update(int(batch.done[live].sum()))
    return batch.score.copy(), moves


def _counted(frames: Iterator[np.ndarray], progress: Progress) -> Iterator[np.ndarray]:
    """The frames, each one told to `progress` as it is handed on to the writer."""
    for frame in frames:
        yield frame
        progress.update(1)


def replay_frames(
    policy: SnakePolicy, grid_size: int, episode_seed: int, max_steps: int | None, stats: dict
) -> Iterator[np.ndarray]:
    """RGB frames of one greedy game, the start position first; `stats` receives its score and move count."""
    env = SnakeEnv(grid_size, render_mode="rgb_array")
    env.reset(seed=episode_seed)
    stats.update(score=0, moves=0)
    yield env.render()
    done = False
    while not done and (max_steps is None or stats["moves"] < max_steps):
        action = int(policy.act(env.game, greedy=True)[0])
        _, _, terminated, truncated, info = env.step(action)
        done = terminated or truncated
        stats.update(score=info["score"], moves=stats["moves"] + 1)
        yield env.render()


def _ffmpeg_available() -> bool:
    try:
        import imageio_ffmpeg

        imageio_ffmpeg.get_ffmpeg_exe()
    except Exception:  # not installed, or installed without a usable binary
        return False
    return True


def _write_mp4(iio, target: Path, frames: Iterator[np.ndarray], fps: int, hold: int) -> None:
    """Stream frames to ffmpeg (no whole video in memory). The temporary name ends in .tmp, so the container is
    named explicitly (`-f mp4`) rather than guessed from the file name."""
    with atomic_path(target, suffix=".mp4") as tmp:
        with iio.imopen(tmp, "w", plugin="FFMPEG", extension=".mp4") as file:
            writer = file.legacy_get_writer(fps=fps, output_params=["-f", "mp4"], macro_block_size=16)
            try:
                frame = None
                for frame in frames:
                    writer.append_data(frame)
                for _ in range(hold if frame is not None else 0):
                    writer.append_data(frame)
            finally:
                writer.close()


def _write_gif(iio, target: Path, frames: Iterator[np.ndarray], fps: int, hold: int) -> None:
    stack = list(frames)
    stack += [stack[-1]] * hold
    with atomic_path(target, suffix=".gif") as tmp:
        iio.imwrite(tmp, np.stack(stack), extension=".gif", duration=1000.0 / fps, loop=0)


def record_best_episode(
    policy: SnakePolicy,
    out_stem: Path,
    episodes: int = 5,
    grid_size: int = 10,
    seed: int = 0,
    fps: int = 10,
    max_steps: int | None = None,
    narrator: Narrator | None = None,
    fmt: str | None = None,
) -> Path | None:
    """Write the best of `episodes` greedy games to `out_stem` + .mp4 (or .gif without ffmpeg, or as `fmt` asks).

    Returns the file written, or None when no video library is installed (said in one sentence, never raised).
    """
    narrator = given_or_console(narrator)
    if policy.grid_size != grid_size:
        raise ValueError(
            f"The policy plays a {policy.grid_size} by {policy.grid_size} grid, but the video asks for "
            f"{grid_size} by {grid_size}; pass grid_size={policy.grid_size}."
        )
    if fmt is not None and fmt not in VIDEO_FORMATS:
        raise ValueError(f"Video format {fmt!r} is not one of {', '.join(VIDEO_FORMATS)}.")
    try:
        import imageio.v3 as iio
    except ImportError:
        narrator.say("No video was recorded because the imageio package is not installed; "
                     "install it with pip install imageio imageio-ffmpeg.")  # fmt: skip
        return None
    use = _choose_format(fmt, narrator)
    _announce(episodes, grid_size, max_steps, use, narrator)
    with narrator.progress(episodes, "Playing the games", unit="games") as progress:  # the sentence above expects
        scores, moves = play_greedy(policy, episodes, grid_size, seed, max_steps, progress)
    best = int(np.argmax(scores))
    episode_seed = seed + best
    stats: dict = {}
    out_stem = Path(out_stem)
    target = out_stem.with_name(out_stem.name + "." + use)
    hold = max(int(fps), 1)  # the last position stays on screen for a second
    frames = int(moves[best]) + 1
    writing = f"Writing the video of episode {best + 1}, score {scores[best]}: {frames:,} frames"

    def write(fmt: str, path: Path) -> None:
        with narrator.progress(frames, "Writing the video", unit="frames",
                               expected_s=frames / VIDEO_FRAMES_PER_S, plan=writing, steady=True) as progress:
            shown = _counted(replay_frames(policy, grid_size, episode_seed, max_steps, stats), progress)
            (_write_mp4 if fmt == "mp4" else _write_gif)(iio, path, shown, fps, hold)

    if use == "mp4":
        try:
            write("mp4", target)
        except Exception as exc:  # a broken ffmpeg binary should cost the video format, not the run
            reason = str(exc).strip().splitlines()[0][:120] if str(exc).strip() else type(exc).__name__
            narrator.say(f"Writing the MP4 failed ({reason}), so the video is written as a GIF instead.")
            use, target = "gif", out_stem.with_name(out_stem.name + ".gif")
    if use == "gif":
        write("gif", target)
    _say_recorded(narrator, stats, int(scores[best]), best, episodes, episode_seed, target)
    return target


def _choose_format(fmt: str | None, narrator: Narrator) -> str:
    """MP4 when asked for (or by default) and ffmpeg is there; otherwise a GIF, said in one sentence."""
    use = fmt
    if use is None:
        use = "mp4" if _ffmpeg_available() else "gif"
        if use == "gif":
            narrator.say("The imageio-ffmpeg package is missing, so the video is written as a GIF instead of MP4.")
    elif use == "mp4" and not _ffmpeg_available():
        narrator.say("The imageio-ffmpeg package is missing, so the video is written as a GIF instead of MP4.")
        use = "gif"
    return use


def _announce(episodes: int, grid_size: int, max_steps: int | None, use: str, narrator: Narrator) -> None:
    """Said at once, so a listener is never left in silence: what happens, and a conservative guess of how long,
    from a strong policy's game length (about 2 x grid_size**3 moves: 1,900 on 10 by 10 for the shipped player)."""
    length = min(2.0 * grid_size**3, max_steps or np.inf)
    guess = length / VIDEO_STEPS_PER_S + length / VIDEO_FRAMES_PER_S
    narrator.say(f"Recording a video of the best of {plural(episodes, 'greedy game')} as "
                 f"{'an MP4' if use == 'mp4' else 'a GIF'}, expected to take {about(guess)} or less.")


def _say_recorded(narrator: Narrator, stats: dict, score: int, best: int, episodes: int, episode_seed: int,
                  target: Path) -> None:
    """The video written: which game, its score and length, and where; a replay that scored otherwise is said."""
    if stats["score"] != score:
        narrator.say(f"The replay scored {stats['score']}, not the {score} of the batched game; "
                     "the video shows the replay.")  # fmt: skip
    narrator.say(
        f"Recorded episode {best + 1} of {episodes} (seed {episode_seed}), score {stats['score']} "
        f"in {count(stats['moves'], 'move')}, to {target}."
    )
    narrator.event("video", path=str(target), episode=best, seed=episode_seed, score=int(stats["score"]), moves=stats["moves"])
