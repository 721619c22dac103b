"""Video recorder: the best seeded greedy game becomes a readable MP4 or GIF; missing libraries cost a sentence, not
the run."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import video_recorder as vr
from snake_mc.game.rules import DC, DR, SnakeEnv
from snake_mc.learn.network import SnakePolicy, save_policy
from snake_mc.speech.narrate import Narrator


@pytest.fixture(scope="module")
def policy() -> SnakePolicy:
    torch.manual_seed(3)
    return SnakePolicy(6, hidden=16).eval()


class FoodSeeker:
    """A deterministic test player that scores differently on different seeds: the safe move nearest the food."""

    grid_size = 6

    def act(self, batch, greedy: bool = True, **_: object) -> np.ndarray:
        g, n = batch.grid_size, batch.num_games
        occupied = batch.ttl() > 1  # the tail cell (time-to-live 1) frees this move
        food_r, food_c = np.divmod(batch.food, g)
        best = np.full(n, -np.inf)
        choice = np.ones(n, dtype=np.int64)
        for action in (1, 0, 2):
            d = (batch.direction + action + 3) & 3
            r, c = batch.head_r + DR[d], batch.head_c + DC[d]
            inside = (r >= 0) & (r < g) & (c >= 0) & (c < g)
            safe = inside & ~occupied[np.arange(n), np.clip(r, 0, g - 1) * g + np.clip(c, 0, g - 1)]
            value = np.where(safe, -(np.abs(r - food_r) + np.abs(c - food_c)), -1e9)
            better = value > best
            best, choice = np.where(better, value, best), np.where(better, action, choice)
        return choice


def frame_count(path: Path) -> int:
    import imageio.v3 as iio

    return sum(1 for _ in iio.imiter(path))


def listener() -> tuple[Narrator, io.StringIO]:
    stream = io.StringIO()
    return Narrator(stream=stream, progress="off"), stream


def first_frame(path: Path) -> np.ndarray:
    import imageio.v3 as iio

    return iio.imread(path, index=0)


def test_play_greedy_is_seeded_and_batched(policy: SnakePolicy) -> None:
    scores, moves = vr.play_greedy(policy, 4, 6, seed=10)
    again, moves_again = vr.play_greedy(policy, 4, 6, seed=10)
    assert np.array_equal(scores, again) and np.array_equal(moves, moves_again)
    alone, _ = vr.play_greedy(policy, 1, 6, seed=12)  # episode i is seeded seed + i, whatever the batch size
    assert alone[0] == scores[2]
    assert np.all(moves >= 1)
    capped, capped_moves = vr.play_greedy(policy, 4, 6, seed=10, max_steps=3)
    assert np.all(capped_moves <= 3)


def test_records_the_best_episode_as_a_readable_video(policy: SnakePolicy, tmp_path: Path) -> None:
    narrator, stream = listener()
    path = vr.record_best_episode(policy, tmp_path / "videos" / "best", episodes=3, grid_size=6, seed=5, narrator=narrator)
    assert path is not None and path.exists() and path.stat().st_size > 0
    assert path.suffix in (".mp4", ".gif")
    assert first_frame(path).shape[:2] == (6 * 32, 6 * 32)
    said = stream.getvalue().strip().splitlines()[-1]
    assert said.startswith("Recorded episode ") and str(path) in said and said.isascii()
    assert not list(path.parent.glob(".*tmp"))


def test_the_video_is_the_best_episode_replayed_by_its_seed(tmp_path: Path) -> None:
    seeker = FoodSeeker()
    scores, moves = vr.play_greedy(seeker, 3, 6, seed=5)
    assert len(set(scores.tolist())) == 3  # distinct scores, so picking the best is a real choice
    best = int(np.argmax(scores))
    narrator, stream = listener()
    path = vr.record_best_episode(seeker, tmp_path / "best", episodes=3, grid_size=6, seed=5, narrator=narrator, fmt="gif")
    assert path == tmp_path / "best.gif"
    said = stream.getvalue().strip().splitlines()[-1]
    assert said == f"Recorded episode {best + 1} of 3 (seed {5 + best}), score {scores[best]} in {moves[best]} moves, to {path}."
    env = SnakeEnv(6, render_mode="rgb_array")
    env.reset(seed=5 + best)
    assert np.array_equal(first_frame(path)[..., :3], env.render())  # a GIF is lossless: the very start position
    assert frame_count(path) >= moves[best]  # every move is in it (the fatal one leaves the board as it was)


def test_mp4_when_ffmpeg_is_present(policy: SnakePolicy, tmp_path: Path) -> None:
    pytest.importorskip("imageio_ffmpeg")
    narrator, _ = listener()
    path = vr.record_best_episode(policy, tmp_path / "clip", episodes=2, grid_size=6, narrator=narrator, fps=8)
    assert path == tmp_path / "clip.mp4"
    assert first_frame(path).shape == (192, 192, 3)


def test_gif_when_ffmpeg_is_missing(policy: SnakePolicy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "imageio_ffmpeg", None)
    narrator, stream = listener()
    path = vr.record_best_episode(policy, tmp_path / "clip", episodes=2, grid_size=6, narrator=narrator, max_steps=15)
    assert path == tmp_path / "clip.gif"
    assert first_frame(path).shape[:2] == (192, 192)
    assert "written as a GIF instead of MP4" in stream.getvalue()


def test_without_imageio_it_says_one_sentence_and_returns_none(
    policy: SnakePolicy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "imageio", None)
    narrator, stream = listener()
    assert vr.record_best_episode(policy, tmp_path / "clip", episodes=2, grid_size=6, narrator=narrator) is None
    lines = stream.getvalue().strip().splitlines()
    assert len(lines) == 1 and "imageio" in lines[0] and lines[0].endswith(".")
    assert not any(tmp_path.iterdir())


def test_wrong_grid_is_refused_in_a_sentence(policy: SnakePolicy, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="6 by 6 grid, but the video asks for 10 by 10"):
        vr.record_best_episode(policy, tmp_path / "clip", grid_size=10)


def test_cli_writes_the_named_file(policy: SnakePolicy, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    checkpoint = tmp_path / "policy_mc.pt"
    save_policy(policy, checkpoint)
    out = tmp_path / "out" / "run.gif"
    assert vr.main([str(checkpoint), "--episodes", "2", "--out", str(out), "--max-steps", "10"]) == 0
    assert out.exists() and first_frame(out).shape[:2] == (192, 192)
    assert str(out) in capsys.readouterr().out
    folder = tmp_path / "folder"
    assert vr.main([str(checkpoint), "--episodes", "1", "--out", str(folder), "--max-steps", "5"]) == 0
    assert len(list(folder.glob("policy_mc.*"))) == 1


def test_cli_bad_checkpoint_or_flag_exits_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    assert vr.main([str(junk)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "junk.pt" in err[0]
    with pytest.raises(SystemExit) as info:
        vr.main([str(junk), "--episodes", "0"])
    assert info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--episodes must be at least 1" in err[0]


def test_cli_refuses_an_unwritable_out_before_playing(tmp_path, capsys):
    from snake_mc.learn.network import SnakePolicy, save_policy
    from video_recorder import main

    save_policy(SnakePolicy(6, hidden=8, layers=1), tmp_path / "p.pt")
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    assert main([str(tmp_path / "p.pt"), "--out", str(blocker / "v.gif")]) == 2
    assert "could not be saved" in capsys.readouterr().err


def test_it_says_at_once_what_it_will_do_and_how_long_then_progress(policy: SnakePolicy, tmp_path: Path) -> None:
    stream = io.StringIO()
    narrator = Narrator(stream=stream, progress="lines", progress_after_s=0.0, progress_gap_s=0.0)  # done in seconds
    path = vr.record_best_episode(policy, tmp_path / "clip", episodes=4, grid_size=6, narrator=narrator, fmt="gif")
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("Recording a video of the best of 4 greedy games as a GIF, expected to take about ")
    assert "expected to take about " in lines[0]
    assert any(line.startswith("Writing the video: ") and "frames" in line for line in lines), lines
    assert lines[-1].startswith("Recorded episode ") and path is not None
    assert all(line.isascii() and line.endswith(".") for line in lines)
