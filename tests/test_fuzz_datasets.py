"""Fuzzing the dataset loader: every field of a real recording corrupted (type, shape, range, NaN and infinity, grid
size, lengths, missing), then fed to the real entry points, so that no file can reach the compiled encoder unchecked.

The corrupted files are loaded in a subprocess (this file run as a script), many cases per process: a segmentation
fault there fails the test and names the case, where in pytest's own process it would end the whole run. Each case
goes through `datasets.load_dataset` (as the self-play archives are read), `train_imitation.py`, `play.py --append`
and `iterative_train.py`; each must refuse it with exit status 2 and one sentence naming the file and the field, and
without a traceback. `play.py --append` must also leave the file as it was.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import subprocess
import sys
import tempfile
import traceback
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[1]
G = 6  # the recording's board
PER_SAMPLE = ("ttl", "head", "direction", "food", "since_food", "actions", "episode", "action_values")
SINGLE = ("source", "grid_size", "format_version")
REQUIRED = ("ttl", "head", "direction", "food", "since_food", "actions", "episode", "episode_scores", *SINGLE)
FIELDS = (*PER_SAMPLE, "episode_scores", *SINGLE)
DTYPES = ("float32", "float64", "bool", "complex64", "str", "int64-for-text")
# Values outside each field's range; "shift" moves the head to a cell its body does not put it in, "on-body" puts the
# apple under the snake's head. N: samples, E: episodes, C: cells.
BAD_VALUES = {
    "ttl": ["-1", "C+1", "30000", "-32768"],
    "head": ["-1", "G", "500", "shift"],
    "direction": ["-1", "4", "100"],
    "food": ["-2", "C", "10000", "on-body"],
    "since_food": ["-1", "-2147483648"],
    "actions": ["-1", "3", "127"],
    "episode": ["-1", "E", "2147483647"],
    "episode_scores": ["-1", "C+1"],
    "action_values": ["nan", "inf", "-inf"],
}
SHAPES = ("drop-row", "extra-axis", "scalar", "vector")
BAD_GRIDS = (G - 1, G + 1, 0, -1, 3, 64, 2**40)


# ----- the subprocess: corrupt, feed to every entry point, report ------------------------------------------------
def _bad_value(key: str, text: str, data: dict[str, np.ndarray], flat: int) -> float | int:
    n, e, c = len(data["actions"]), len(data["episode_scores"]), G * G
    if text == "shift":  # the head's column moved by one: a cell whose ttl is not the snake's length
        row = flat // 2
        return (int(data["head"][row, 1]) + 1) % G if flat % 2 else (int(data["head"][row, 0]) + 1) % G
    if text == "on-body":
        return int(data["head"][flat, 0]) * G + int(data["head"][flat, 1])
    names = {"C": c, "G": G, "E": e, "N": n}
    return float(text) if text in ("nan", "inf", "-inf") else int(eval(text, {}, names))  # noqa: S307 - our own table


def corrupt(data: dict[str, np.ndarray], case: list) -> dict[str, np.ndarray]:
    """A copy of `data` with the one corruption `case` describes: [kind, field, argument, position in 0..1)]."""
    kind, key, arg, where = case
    out = {k: v.copy() for k, v in data.items()}
    if kind == "none":
        return out
    if kind == "missing":
        del out[key]
        return out
    value = out[key]
    flat = min(int(where * max(value.size, 1)), max(value.size - 1, 0))
    if kind == "dtype":
        if key == "action_values" and arg.startswith("float"):
            arg = "int64-for-text"  # floats of another width are still valid action values
        if arg == "int64-for-text" or value.dtype.kind == "U":  # text as a number, a number as the other kind
            out[key] = np.full(value.shape, 3, np.int64) if value.dtype.kind in "Uf" else value.astype(np.float64)
        else:
            out[key] = value.astype(arg)
    elif kind == "nan":  # a whole-number field read as floats with one NaN or infinity in it
        value = value.astype(np.float64) if value.dtype.kind != "f" else value
        value.reshape(-1)[flat] = float(arg)
        out[key] = value
    elif kind == "value":
        bad = _bad_value(key, arg, data, flat)
        if key != "action_values":
            value = value.astype(np.int64)  # room for any bad whole number; the type itself stays a valid one
        value.reshape(-1)[flat] = bad
        out[key] = value
    elif kind == "shape":
        if arg == "drop-row":
            out[key] = value[:-1] if value.ndim else np.array([value, value])
        elif arg == "extra-axis":
            out[key] = value[..., None]
        elif arg == "scalar":
            out[key] = value.reshape(-1)[0].copy() if value.ndim else value.reshape(1)
        else:  # vector: a single value stored twice, or a per-sample field stored as a board
            out[key] = np.array([value, value]) if not value.ndim else np.zeros((len(value), G + 1, G + 1), value.dtype)
    elif kind == "grid":
        out["grid_size"] = np.array(int(arg))
    return out


def expected_names(case: list) -> set[str]:
    """The field names one of which the refusal must say."""
    kind, key, arg, _ = case
    if kind == "grid":
        return {"grid_size"}
    if kind == "shape" and key == "actions":  # actions sets the sample count: the first array that disagrees is named
        return {"actions", "ttl"}
    if kind == "shape" and key == "episode_scores":  # one episode fewer: the episode numbers that point past the end
        return {"episode_scores", "episode"}
    if kind == "value" and arg == "shift":
        return {"head"}
    return {key}


def _call(main, argv: list[str]) -> tuple[int, str]:
    """A command's `main` in this process: its exit status and everything it printed."""
    text = io.StringIO()
    with contextlib.redirect_stdout(text), contextlib.redirect_stderr(text):
        try:
            rc = main(argv)
        except SystemExit as exc:
            rc = exc.code if isinstance(exc.code, int) else 1
        except BaseException:  # noqa: BLE001 - the test reports it
            traceback.print_exc(file=text)
            rc = -1
    return rc, text.getvalue()


def run_cases(base: Path, cases: list[list], work: Path) -> None:
    """Print one JSON line per case: how each entry point took the corrupted file. A line "start i" goes first, so a
    crash names the case it died on."""
    import iterative_train
    import play
    import train_imitation
    from snake_mc.game import datasets

    with np.load(base, allow_pickle=False) as npz:
        data = {k: npz[k] for k in npz.files}
    for i, case in enumerate(cases):
        print(json.dumps({"start": i}), flush=True)
        folder = work / f"case{i}"
        (folder / "data").mkdir(parents=True)
        path = folder / "data" / "human_demos.npz"
        np.savez(path, **corrupt(data, case))
        report: dict[str, object] = {"case": i}
        try:
            datasets.load_dataset(path, grid_size=G)
            report["load"] = [0, "accepted"]
        except datasets.DatasetError as exc:
            report["load"] = [2, str(exc)]
        except BaseException:  # noqa: BLE001
            report["load"] = [-1, traceback.format_exc()]
        report["train_imitation"] = _call(train_imitation.main, [
            "--demos", str(path), "--out", str(folder / "imitation.pt"), "--epochs", "1", "--hidden", "8",
            "--layers", "1", "--batch-size", "64", "--device", "cpu"])  # fmt: skip
        before = path.read_bytes()
        report["play"] = _call(play.main, ["--scripted", "1", "--grid-size", str(G), "--workdir", str(folder / "data"),
                                           "--out", "human_demos.npz", "--append"])  # fmt: skip
        report["play_kept_the_file"] = path.read_bytes() == before
        path.write_bytes(before)
        run = folder / "run"
        (run / "data").mkdir(parents=True)
        shutil.copy(path, run / "data" / "human_demos.npz")
        report["iterative_train"] = _call(iterative_train.main, [
            "--workdir", str(run), "--grid-size", str(G), "--iterations", "0", "--imitation-epochs", "1",
            "--policy-hidden", "8", "--policy-layers", "1", "--eval-episodes", "4", "--fast-eval-episodes", "2",
            "--hard-games", "0", "--mc-workers", "1", "--device", "cpu", "--progress", "off"])  # fmt: skip
        print(json.dumps(report), flush=True)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    run_cases(Path(sys.argv[1]), json.loads(Path(sys.argv[2]).read_text()), Path(sys.argv[3]))
    sys.exit(0)


# ----- the tests -------------------------------------------------------------------------------------------------
ENTRY_POINTS = ("train_imitation", "play", "iterative_train")


def _cases_strategy() -> st.SearchStrategy:
    where = st.floats(0, 1, exclude_max=True)
    per_field = [
        st.tuples(st.just("missing"), st.sampled_from(REQUIRED), st.just(""), st.just(0.0)),
        st.tuples(st.just("dtype"), st.sampled_from(FIELDS), st.sampled_from(DTYPES), st.just(0.0)),
        st.tuples(st.just("nan"), st.sampled_from(PER_SAMPLE + ("episode_scores",)), st.sampled_from(["nan", "inf", "-inf"]),
                  where),
        st.sampled_from(sorted(BAD_VALUES)).flatmap(
            lambda key: st.tuples(st.just("value"), st.just(key), st.sampled_from(BAD_VALUES[key]), where)),
        st.tuples(st.just("shape"), st.sampled_from(FIELDS), st.sampled_from(SHAPES), st.just(0.0)),
        st.tuples(st.just("grid"), st.just("grid_size"), st.sampled_from(BAD_GRIDS), st.just(0.0)),
    ]  # fmt: skip
    return st.lists(st.one_of(per_field).map(list), min_size=12, max_size=12)


# Every field with every kind of damage once, and a clean file first, which every entry point must accept.
SYSTEMATIC = (
    [["none", "", "", 0.0]]
    + [["missing", key, "", 0.0] for key in ("ttl", "head", "actions", "episode_scores", "grid_size")]
    + [["dtype", key, "float32" if key not in SINGLE else "int64-for-text", 0.0] for key in FIELDS]
    + [["dtype", key, dtype, 0.0] for key in ("head", "action_values") for dtype in ("bool", "complex64", "str")]
    + [["nan", key, "nan", 0.5] for key in ("ttl", "head", "food", "action_values")]
    + [["nan", "direction", "inf", 0.5]]
    + [["value", key, bad, where] for key, values in BAD_VALUES.items() for bad in values for where in (0.0, 0.99)]
    + [["shape", key, kind, 0.0] for key in FIELDS for kind in SHAPES]
    + [["grid", "grid_size", g, 0.0] for g in BAD_GRIDS]
)


@pytest.fixture(scope="module")
def recording(tmp_path_factory) -> Path:
    """A real recording made by the project's own command: three scripted games on a 6 by 6 board, given the action
    values a self-play archive carries, so that field is fuzzed too."""
    import play
    from snake_mc.game import datasets

    folder = tmp_path_factory.mktemp("fuzz")
    with contextlib.redirect_stdout(io.StringIO()):
        assert play.main(["--scripted", "3", "--grid-size", str(G), "--workdir", str(folder), "--out", "base.npz"]) == 0
    data = datasets.load_dataset(folder / "base.npz")
    data["action_values"] = np.random.default_rng(0).uniform(-1, 1, (len(data["actions"]), 3)).astype(np.float32)
    datasets.save_dataset(folder / "base.npz", data)
    return folder / "base.npz"


def _feed(recording: Path, cases: list[list]) -> list[dict]:
    """Every case through every entry point in one subprocess; its crash fails the test and names the case."""
    work = Path(tempfile.mkdtemp(dir=recording.parent))
    (work / "cases.json").write_text(json.dumps(cases))
    proc = subprocess.run([sys.executable, __file__, str(recording), str(work / "cases.json"), str(work)],
                          capture_output=True, text=True, timeout=400, cwd=ROOT)  # fmt: skip
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    started = [line["start"] for line in lines if "start" in line]
    reports = [line for line in lines if "case" in line]
    last = cases[started[-1]] if started else None
    assert proc.returncode == 0, f"the loader process died (exit {proc.returncode}) on case {last}: {proc.stderr[-2000:]}"
    assert len(reports) == len(cases)
    shutil.rmtree(work, ignore_errors=True)
    return reports


def _check(case: list, report: dict) -> None:
    name = "human_demos.npz"
    if case[0] == "none":
        assert report["load"][0] == 0, report
        for entry in ENTRY_POINTS:
            assert report[entry][0] == 0, (entry, report[entry][1])
        return
    rc, message = report["load"]
    assert rc == 2, f"{case}: the loader {'accepted the file' if rc == 0 else 'crashed'}: {message}"
    fields = expected_names(case)
    assert name in message and any(f in message for f in fields), f"{case}: {message}"
    for entry in ENTRY_POINTS:
        rc, text = report[entry]
        assert rc == 2, f"{case}: {entry} exited {rc}: {text}"
        assert "Traceback" not in text, f"{case}: {entry} printed a traceback: {text}"
        last = text.strip().splitlines()[-1]
        assert name in last and any(f in last for f in fields), f"{case}: {entry} said {last!r}"
        assert text.isascii() and "\x1b" not in text
    assert report["play_kept_the_file"], f"{case}: play.py --append changed the damaged file"


def test_every_field_damaged_every_way_is_refused_by_every_entry_point(recording):
    for case, report in zip(SYSTEMATIC, _feed(recording, SYSTEMATIC)):
        _check(case, report)


@settings(max_examples=2, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases=_cases_strategy())
@example(cases=[["value", "head", "500", 0.0], ["grid", "grid_size", 7, 0.0]] * 6)
def test_random_damage_is_refused_by_every_entry_point(recording, cases):
    for case, report in zip(cases, _feed(recording, cases)):
        _check(case, report)
