"""The run's history: one row per iteration, its format, its file, and the same rows as a CSV a person can read.

The run record (run_state.py) appends one row per iteration to `training_logs/training_history.npz` (row 0 is
the imitation bootstrap):

  iteration int32         iteration number (numbering continues across runs)
  mean_score float64      mean evaluation score (apples)
  std_score float64       its standard deviation over the evaluation episodes
  max_score float64       best single evaluation game
  mean_length float64     mean episode length in moves
  full_eval bool          True for a full evaluation, False for a fast one
  mc_K int32, mc_H int32  search settings used to make this iteration's data
  rolled_back bool        the iteration's policy was rejected and the previous one restored
  used_human_data bool    demonstrations were mixed into this iteration's training data
  elapsed_minutes float64 minutes since the run began when the iteration finished (cumulative)
  decision unicode        one sentence saying what the driver decided and why
  win_rate float64        share of evaluation boards filled (NaN in histories older than this field)
  gain float64            paired mean score difference against the policy it would replace (NaN for iteration 0)
  gain_se float64         its standard error
  moves_per_apple float64 the policy's moves over its apples in this evaluation (NaN where not recorded)
  speed_gain float64      paired change in moves per apple, new minus old, on the boards both policies filled (down
                          is faster; NaN when unknown: fewer than 2 such boards, iteration 0, or older histories)
  speed_se float64        its standard error
  human_baseline ()       scalar float64, the demonstrations' mean score; NaN when unknown

The three speed fields came last (issue 24): a row may leave them out and an older file lacks them; both read as
NaN, so `HISTORY_FIELDS` still names the fields every row must give.

`summary_csv` gives the same rows as CSV; the record rewrites training_logs/summary.csv at every commit, so an
interrupted run has one too.
"""

from __future__ import annotations

import csv
import io
import math
import os

import numpy as np

from snake_mc.common.storage import read_npz, save_npz_atomic

HISTORY_FIELDS: dict[str, np.dtype] = {
    "iteration": np.dtype(np.int32),
    "mean_score": np.dtype(np.float64),
    "std_score": np.dtype(np.float64),
    "max_score": np.dtype(np.float64),
    "mean_length": np.dtype(np.float64),
    "full_eval": np.dtype(bool),
    "mc_K": np.dtype(np.int32),
    "mc_H": np.dtype(np.int32),
    "rolled_back": np.dtype(bool),
    "used_human_data": np.dtype(bool),
    "elapsed_minutes": np.dtype(np.float64),
    "decision": np.dtype(str),
    "win_rate": np.dtype(np.float64),
    "gain": np.dtype(np.float64),
    "gain_se": np.dtype(np.float64),
}
# The speed fields: optional in a row and in a file (NaN when left out), checked and saved like the others.
SPEED_FIELDS: dict[str, np.dtype] = {
    "moves_per_apple": np.dtype(np.float64),
    "speed_gain": np.dtype(np.float64),
    "speed_se": np.dtype(np.float64),
}
# Fields added after the first histories were written: an older file reads with them as NaN.
LATER_FIELDS = ("win_rate", "gain", "gain_se", *SPEED_FIELDS)
ROW_FIELDS: dict[str, np.dtype] = {**HISTORY_FIELDS, **SPEED_FIELDS}  # every per-iteration field a file holds
SCALAR_FIELDS = ("human_baseline",)
# What a history file may unpack to: a row is about a kilobyte (the decision sentence, 4 bytes a character, is most of
# it), so this is some 200,000 iterations; a small file that asks for more (deflated zeros, a header claiming a huge
# shape) is refused before any array of it is read, and the run sets it aside.
MAX_HISTORY_BYTES = 250_000_000


class HistoryError(ValueError):
    """A history file or dict that cannot be used; the message names the file and what is wrong."""


# ----- the format ----------------------------------------------------------------------------------------------
def empty_history(human_baseline: float = math.nan) -> dict[str, np.ndarray]:
    """A history with no rows yet, in the exact dtypes `save_history` writes."""
    history = {name: np.zeros(0, dtype=dtype) for name, dtype in ROW_FIELDS.items()}
    history["human_baseline"] = np.array(float(human_baseline), dtype=np.float64)
    return history


def append_iteration(history: dict[str, np.ndarray], **row: object) -> dict[str, np.ndarray]:
    """A new history with one more row; every per-iteration field must be given (the speed fields read as NaN when
    left out), so no column falls behind."""
    missing = [name for name in HISTORY_FIELDS if name not in row]
    extra = [name for name in row if name not in ROW_FIELDS]
    if missing or extra:
        raise HistoryError(f"A history row needs exactly the fields {', '.join(HISTORY_FIELDS)}; "
                           f"missing {missing or 'none'}, unexpected {extra or 'none'}.")  # fmt: skip
    out = _checked(history, "the history being appended to")
    for name in ROW_FIELDS:
        out[name] = np.append(out[name], np.asarray([row.get(name, math.nan)]))
    return _checked(out, "the history being appended to")


_KIND_WORDS = {"i": "whole numbers", "f": "numbers", "b": "true or false values", "U": "sentences"}


def _fits(values: np.ndarray, dtype: np.dtype) -> bool:
    """Whether the stored values convert to the documented dtype without losing meaning."""
    kind = values.dtype.kind
    if dtype.kind == "U":
        return kind == "U"
    if dtype.kind == "f":
        return kind in "fiu"
    if dtype.kind == "i":
        return kind in "iu" or (kind == "f" and bool(np.all(np.isfinite(values) & (values == np.round(values)))))
    return kind == "b" or (kind in "iu" and bool(np.all((values == 0) | (values == 1))))


def _checked(history: dict[str, np.ndarray], where: str) -> dict[str, np.ndarray]:
    """Every field present, one length, the documented dtypes; anything else is a `HistoryError` naming `where`."""
    if "iteration" in history:
        rows = len(np.asarray(history["iteration"]).reshape(-1))
        history = {**{name: np.full(rows, np.nan) for name in LATER_FIELDS}, **history}
    missing = [name for name in (*HISTORY_FIELDS, *SCALAR_FIELDS) if name not in history]
    if missing:
        raise HistoryError(f"{where} lacks the field{'s' if len(missing) > 1 else ''} {', '.join(missing)}; "
                           "it was not written by this version of the trainer.")  # fmt: skip
    out: dict[str, np.ndarray] = {}
    lengths = set()
    for name, dtype in ROW_FIELDS.items():
        values = np.asarray(history[name])
        if values.ndim != 1:
            raise HistoryError(f"In {where}, {name} should be one value per iteration but has shape {values.shape}.")
        if values.size and not _fits(values, dtype):
            raise HistoryError(f"In {where}, {name} should hold {_KIND_WORDS[dtype.kind]} but holds {values.dtype} values.")
        out[name] = values.astype(dtype)
        lengths.add(len(values))
    if len(lengths) != 1:
        raise HistoryError(f"In {where}, the per-iteration fields have different lengths {sorted(lengths)}; it is damaged.")
    baseline = np.asarray(history["human_baseline"])
    if baseline.size != 1 or baseline.dtype.kind not in "fiu":
        raise HistoryError(f"In {where}, human_baseline should be one number.")
    out["human_baseline"] = np.array(float(baseline.reshape(())), dtype=np.float64)
    for name, value in history.items():  # later versions may add fields; keep them
        out.setdefault(name, np.asarray(value))
    return out


def save_history(path: str | os.PathLike, history: dict[str, np.ndarray]) -> None:
    """Validate, then write atomically, so a crash mid-write leaves the previous history readable."""
    save_npz_atomic(path, _checked(history, "the history being saved"))


def load_history(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read and validate a history file (allow_pickle=False, at most `MAX_HISTORY_BYTES` unpacked); every problem is a
    `HistoryError` naming the file."""
    raw = read_npz(path, HistoryError, "Training history {path} does not exist; run iterative_train.py first.",
                   "Training history {path} cannot be read ({reason}); it is damaged or not a history file.",
                   max_bytes=MAX_HISTORY_BYTES)
    return _checked(raw, f"training history {path}")


CSV_COLUMNS = ("iteration", "mean_score", "win_rate", "gain", "gain_se", "moves_per_apple", "speed_gain", "speed_se",
               "std_score", "max_score", "mean_length", "full_eval", "mc_K", "mc_H", "rolled_back", "used_human_data",
               "elapsed_minutes", "decision")


def summary_csv(history: dict[str, np.ndarray]) -> str:
    """Every row as CSV, numbers rounded for reading, the decision in words."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for i in range(len(history["iteration"])):
        row = []
        for name in CSV_COLUMNS:
            value = history[name][i]
            kind = ROW_FIELDS[name].kind
            if kind == "f":
                row.append("" if not math.isfinite(value) else f"{value:.3f}")
            elif kind == "b":
                row.append(bool(value))
            elif kind == "i":
                row.append(int(value))
            else:
                row.append(str(value))
        writer.writerow(row)
    return buffer.getvalue()
