"""Training history: the file format round trip and its refusals, the plot, and the summary in sentences."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

import visualize_training as vt
from snake_mc.run import history as hist
from snake_mc.run.config import Paths

COLUMNS = ("iteration", "mean_score", "std_score", "max_score", "mean_length", "full_eval", "mc_K", "mc_H",
           "rolled_back", "used_human_data", "elapsed_minutes", "decision", "win_rate", "gain", "gain_se")  # fmt: skip
ROWS = [
    (0, 4.2, 2.0, 9, 50, True, 5, 20, False, True, 0.5, "Bootstrap: the imitation policy scored 4.2.", 0.0, np.nan, np.nan),
    (1, 6.0, 2.5, 12, 70, False, 5, 20, False, True, 2.0, "Accepted: the mean score rose by 1.8.", 0.0, 1.8, 0.5),
    (2, 5.1, 2.1, 11, 65, False, 5, 20, True, True, 3.5, "Rolled back: the mean score fell by 0.9.", 0.0, -0.9, 0.3),
    (3, 6.2, 2.4, 13, 72, False, 7, 30, False, False, 5.0, "Low improvement twice, so K grows to 7 and H to 30.", 0.0,
     0.2, 0.4),
    (4, 11.4, 3.0, 20, 150, True, 7, 30, False, False, 6.5, "Accepted after a full evaluation.", 0.1, 5.2, 1.0),
    (5, 10.8, 3.1, 23, 148, False, 9, 40, True, False, 61.0, "Rolled back: the mean score fell by 0.6.", 0.05, -0.6, 0.2),
]


def make_history(rows: list[tuple] = ROWS, baseline: float = 9.5) -> dict[str, np.ndarray]:
    history = hist.empty_history(baseline)
    for row in rows:
        row = (*row, *[np.nan] * (len(COLUMNS) - len(row)))  # rows without fill rates and gains read as unknown
        history = hist.append_iteration(history, **dict(zip(COLUMNS, row)))
    return history


def test_save_load_round_trip_keeps_values_and_dtypes(tmp_path: Path) -> None:
    path = tmp_path / "training_logs" / "training_history.npz"
    hist.save_history(path, make_history())
    loaded = hist.load_history(path)
    for name, dtype in hist.HISTORY_FIELDS.items():
        assert loaded[name].dtype.kind == dtype.kind, name
        assert loaded[name].dtype == dtype or dtype.kind == "U", name
        expected = [row[COLUMNS.index(name)] for row in ROWS]
        if dtype.kind == "f":
            np.testing.assert_array_equal(loaded[name], np.array(expected, float), err_msg=name)  # NaN equals NaN
        else:
            assert list(loaded[name]) == expected, name
    assert loaded["human_baseline"].shape == () and float(loaded["human_baseline"]) == 9.5
    assert not list(path.parent.glob("*.tmp"))  # the atomic write left nothing behind


def test_unknown_baseline_round_trips_as_nan(tmp_path: Path) -> None:
    hist.save_history(tmp_path / "h.npz", make_history(ROWS[:1], baseline=math.nan))
    assert math.isnan(float(hist.load_history(tmp_path / "h.npz")["human_baseline"]))


def test_load_refuses_bad_files_naming_them(tmp_path: Path) -> None:
    with pytest.raises(hist.HistoryError, match="absent.npz does not exist"):
        hist.load_history(tmp_path / "absent.npz")
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"this is not a zip archive")
    with pytest.raises(hist.HistoryError, match="junk.npz cannot be read"):
        hist.load_history(junk)
    partial = tmp_path / "partial.npz"
    history = make_history()
    np.savez(partial, **{k: v for k, v in history.items() if k != "mc_H"})
    with pytest.raises(hist.HistoryError, match=r"partial\.npz lacks the field mc_H"):
        hist.load_history(partial)
    ragged = tmp_path / "ragged.npz"
    np.savez(ragged, **{**history, "mean_score": history["mean_score"][:3]})
    with pytest.raises(hist.HistoryError, match="different lengths"):
        hist.load_history(ragged)
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, **{**history, "decision": np.array([{"a": 1}] * len(ROWS), dtype=object)})
    with pytest.raises(hist.HistoryError, match="pickled.npz"):
        hist.load_history(pickled)  # allow_pickle=False: an object array is refused, never unpickled


def test_save_refuses_wrong_types_and_rows_missing_fields(tmp_path: Path) -> None:
    history = make_history()
    with pytest.raises(hist.HistoryError, match="mc_K should hold whole numbers"):
        hist.save_history(tmp_path / "h.npz", {**history, "mc_K": history["mc_K"] + 0.5})
    with pytest.raises(hist.HistoryError, match="missing"):
        hist.append_iteration(history, iteration=6, mean_score=1.0)
    assert not (tmp_path / "h.npz").exists()


def test_summary_tells_the_story() -> None:
    text = vt.summary_text(make_history())
    assert "The best kept policy scored a mean of 11.4, at iteration 4" in text
    assert "the best single game scored 23, at iteration 5" in text
    assert "There were 2 rollbacks, at iterations 2 and 5." in text
    assert "to K 7 and H 30 at iteration 3 and to K 9 and H 40 at iteration 5" in text
    assert "The demonstrations' baseline of 9.5 was beaten" in text and "iteration 4 was the first to beat it" in text
    assert "started with the imitation bootstrap scoring a mean of 4.2" in text
    assert "The latest iteration, 5, was rolled back, so training ends with the policy of iteration 4." in text
    assert ("From the starting policy to the one of iteration 4, which training ends with, the mean score rose by 7.2, "
            "about 1.8 per iteration.") in text
    assert "dropped from the training data from iteration 3" in text
    assert "1 hour 1 minute" in text
    for row in ROWS:  # one line per iteration carrying the driver's decision
        assert f"Iteration {row[0]}: " in text and row[COLUMNS.index("decision")] in text


def test_summary_variants() -> None:
    flat = [(i, 3.0, 1.0, 5, 40, True, 5, 20, False, True, 1.0 * i, "Kept.", 0.0, 0.0, 0.0) for i in range(3)]
    text = vt.summary_text(make_history(flat, baseline=8.0))
    assert "There were no rollbacks." in text
    assert "stayed at K 5 and H 20 throughout" in text
    assert "The demonstrations' baseline of 8 was not beaten: the best mean score is 5 below it." in text
    assert "held steady" in text
    single = make_history([(0, 2.0, 1.0, 4, 30, True, 5, 20, True, True, 0.2, "Bootstrap.")], baseline=math.nan)
    text = vt.summary_text(single)
    assert "There was 1 rollback, at iteration 0." in text and "No baseline was recorded" in text
    assert vt.summary_text(hist.empty_history()) == "No iterations have been recorded yet.\n"


def test_summary_never_counts_a_rolled_back_score_as_progress() -> None:
    # Iteration 2's fast score is the highest, but its policy was thrown away: the story is iteration 1's.
    rows = [
        (0, 84.1, 19.0, 97, 1400, True, 5, 20, False, True, 0.0, "the starting policy, chosen by bootstrapping."),
        (1, 85.8, 17.6, 97, 1372, True, 5, 20, False, True, 1.5, "the new policy was kept, up 1.7."),
        (2, 86.8, 13.7, 97, 1374, False, 5, 20, True, True, 3.0, "the score dropped by 1.5, so the last policy was restored."),
    ]
    text = vt.summary_text(make_history(rows, baseline=92.8))
    assert "The best kept policy scored a mean of 85.8, at iteration 1" in text
    assert "training ends with the policy of iteration 1" in text and "rose by 1.7" in text
    assert "Iteration 1: mean score 85.8 in a full evaluation, K 5, H 20. The new policy was kept, up 1.7." in text


def test_summary_is_plain_ascii_sentences() -> None:
    text = vt.summary_text(make_history())
    assert text.isascii() and "\x1b" not in text  # no emoji, box drawing or ANSI colour
    for line in text.strip().splitlines():
        assert line[0].isupper() and line.endswith("."), line


def test_plot_history_writes_png_and_summary(tmp_path: Path) -> None:
    paths = Paths(tmp_path)
    hist.save_history(paths.history, make_history())
    vt.plot_history(paths.history, paths.progress_png, paths.summary_txt)
    assert paths.progress_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert paths.progress_png.stat().st_size > 10_000
    summary = paths.summary_txt.read_text(encoding="utf-8")
    assert "best kept policy scored a mean of 11.4" in summary and "2 rollbacks" in summary
    assert not list(paths.logs_dir.glob(".*tmp"))


def test_plot_history_copes_with_an_empty_history(tmp_path: Path) -> None:
    hist.save_history(tmp_path / "h.npz", hist.empty_history())
    vt.plot_history(tmp_path / "h.npz", tmp_path / "p.png", tmp_path / "s.txt")
    assert (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "s.txt").read_text() == "No iterations have been recorded yet.\n"


def test_cli_writes_both_and_reads_the_summary(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    paths = Paths(tmp_path)
    hist.save_history(paths.history, make_history())
    assert vt.main(["--workdir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "There were 2 rollbacks" in out and str(paths.progress_png) in out
    assert paths.progress_png.exists() and paths.summary_txt.exists()


def test_cli_without_history_says_one_sentence_and_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert vt.main(["--workdir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "does not exist" in err[0] and "training_history.npz" in err[0]


def test_an_older_history_without_fill_rates_still_reads(tmp_path: Path) -> None:
    old = {k: v for k, v in make_history().items() if k not in ("win_rate", "gain", "gain_se")}
    np.savez(tmp_path / "old.npz", **old)
    loaded = hist.load_history(tmp_path / "old.npz")
    assert len(loaded["win_rate"]) == len(ROWS) and np.isnan(loaded["win_rate"]).all()
    assert "percent of boards filled" not in vt.summary_text(loaded)


def test_a_small_history_whose_arrays_would_unpack_to_gigabytes_is_refused_before_it_is_read(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch
) -> None:
    """Issue 26: a 2.9 MB training_history.npz whose arrays unpack to gigabytes took this command to 3 GB."""
    import io
    import zipfile

    paths = Paths(tmp_path)
    hist.save_history(paths.history, make_history())
    with zipfile.ZipFile(paths.history) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": (10**9,)})
    members["mean_score.npy"] = header.getvalue() + b"\0" * 64  # 8 GB claimed by a file of a few hundred bytes
    with zipfile.ZipFile(paths.history, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, blob in members.items():
            archive.writestr(name, blob)
    read: list[object] = []
    real = np.lib.format.read_array
    monkeypatch.setattr(np.lib.format, "read_array", lambda *a, **k: read.append(1) or real(*a, **k))
    assert vt.main(["--workdir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(paths.history) in err and "8.0 GB" in err and "Traceback" not in err
    assert read == [], "no array was read"
    assert not paths.progress_png.exists() and not paths.summary_txt.exists()
