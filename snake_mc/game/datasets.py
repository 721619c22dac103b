"""The demonstration / self-play dataset format: compact game states (never observations), actions, episodes.

One format serves human demos, scripted demos and Monte Carlo self-play data, so the same loader validates all of
them. Files are `.npz`, loaded with `allow_pickle=False`.

Keys (N samples, E episodes, g the grid size):
  ttl (N,g,g) int16      moves until each body cell frees; head = length, 0 = empty
  head (N,2) int16       head row, column
  direction (N,) int8    0 up, 1 right, 2 down, 3 left
  food (N,) int16        flat food cell (row * g + col), -1 for none
  since_food (N,) int32  moves since the last apple
  actions (N,) int8      relative action taken: 0 left, 1 straight, 2 right
  episode (N,) int32     episode index, 0..E-1
  episode_scores (E,) int32
  action_values (N,3) float32   optional: Monte Carlo mean return of each action (a row of NaN: not searched)
  proofs (N,2,6) float32        optional: the proof facts as the position was played (observation.proof_facts,
                                plain then mirrored), which include the game's kept proof (proof_memory.py) that a
                                position rebuilt from its state has lost; a row of NaN: compute them from the state
  source ()              "human", "scripted" or "mc"
  grid_size (), format_version ()
Older files holding only `states` and `actions` are read by `baseline.human_baseline` (for their mean score), not by
this loader.
"""

from __future__ import annotations

import os

import numpy as np

from snake_mc.common.constants import MAX_GRID
from snake_mc.common.storage import read_npz, save_npz_atomic
from snake_mc.game.cycle_proof import PROOF_FACTS
from snake_mc.game.rules import SnakeBatch

FORMAT_VERSION = 1
STATE_KEYS = ("ttl", "head", "direction", "food", "since_food")
REQUIRED_KEYS = (*STATE_KEYS, "actions", "episode", "episode_scores", "source", "grid_size", "format_version")
SOURCES = ("human", "scripted", "mc")


class DatasetError(ValueError):
    """A dataset file that is missing, unreadable or malformed; the message names the file and the fix."""


def empty_dataset(grid_size: int, source: str, with_values: bool = False,
                  with_proofs: bool = False) -> dict[str, np.ndarray]:
    g = int(grid_size)
    data = {
        "ttl": np.zeros((0, g, g), np.int16),
        "head": np.zeros((0, 2), np.int16),
        "direction": np.zeros(0, np.int8),
        "food": np.zeros(0, np.int16),
        "since_food": np.zeros(0, np.int32),
        "actions": np.zeros(0, np.int8),
        "episode": np.zeros(0, np.int32),
        "episode_scores": np.zeros(0, np.int32),
        "source": np.array(source),
        "grid_size": np.array(g),
        "format_version": np.array(FORMAT_VERSION),
    }
    if with_values:
        data["action_values"] = np.zeros((0, 3), np.float32)
    if with_proofs:
        data["proofs"] = np.zeros((0, 2, PROOF_FACTS), np.float32)
    return data


def num_samples(data: dict[str, np.ndarray]) -> int:
    return int(len(data["actions"]))


def num_episodes(data: dict[str, np.ndarray]) -> int:
    return int(len(data["episode_scores"]))


def concat_datasets(parts: list[dict[str, np.ndarray]], source: str | None = None) -> dict[str, np.ndarray]:
    """Join datasets of one grid size, renumbering episodes so they stay distinct."""
    if not parts:
        raise ValueError("There are no datasets to join.")
    sizes = {int(p["grid_size"]) for p in parts}
    if len(sizes) != 1:
        raise DatasetError(f"Cannot join datasets of different grid sizes {sorted(sizes)}.")
    with_values = all("action_values" in p for p in parts)
    with_proofs = any("proofs" in p for p in parts)  # a part without them: NaN rows, computed when trained on
    out = empty_dataset(sizes.pop(), source or str(parts[0]["source"]), with_values, with_proofs)
    offset = 0
    chunks: dict[str, list[np.ndarray]] = {k: [] for k in out if out[k].ndim > 0}
    for p in parts:
        for key in chunks:
            if key == "proofs" and key not in p:
                chunks[key].append(np.full((num_samples(p), 2, PROOF_FACTS), np.nan, np.float32))
                continue
            chunks[key].append(p["episode"] + offset if key == "episode" else p[key])
        offset += num_episodes(p)
    for key, values in chunks.items():
        out[key] = np.concatenate(values).astype(out[key].dtype)
    return out


def save_dataset(path: str | os.PathLike, data: dict[str, np.ndarray]) -> None:
    """Validate, then write atomically."""
    validate_dataset(data, str(path))
    save_npz_atomic(path, data)


def validate_dataset(data: dict[str, np.ndarray], name: str, grid_size: int | None = None) -> None:
    """Every field's type, shape, range and consistency, before any compiled code indexes with it; each failure is
    one `DatasetError` naming the file and the field."""
    missing = [k for k in REQUIRED_KEYS if k not in data]
    if missing:
        raise DatasetError(f"{name} is missing the arrays {', '.join(missing)}; record it again with play.py.")
    g = _check_header(data, name)
    for key in ("actions", "episode_scores"):  # their lengths are the sample and episode counts
        if np.ndim(data[key]) != 1:
            raise DatasetError(f"{name}: array {key} has shape {np.shape(data[key])}, not one row of values; "
                               "the file is damaged.")
    n = num_samples(data)
    shapes = {"ttl": (n, g, g), "head": (n, 2), "direction": (n,), "food": (n,), "since_food": (n,), "episode": (n,)}
    if "action_values" in data:
        shapes["action_values"] = (n, 3)
    if "proofs" in data:
        shapes["proofs"] = (n, 2, PROOF_FACTS)
    for key, shape in shapes.items():
        if tuple(data[key].shape) != shape:
            board = f" for grid_size {g}" if key == "ttl" else ""
            raise DatasetError(f"{name}: array {key} has shape {data[key].shape}, expected {shape}{board}; "
                               "the file is damaged.")
    if grid_size is not None and g != grid_size:  # a whole file of another board: a setting to change, not damage
        raise DatasetError(
            f"{name} holds {g} by {g} games but this run uses a {grid_size} by {grid_size} grid; "
            f"pass --grid-size {g} or record new data for this grid."
        )
    _check_values(data, name, g, n)
    e = num_episodes(data)
    if n and (data["episode"].min() < 0 or data["episode"].max() >= e):
        raise DatasetError(f"{name}: array episode holds episode numbers outside its {e} recorded episodes; "
                           "the file is damaged.")


def _check_header(data: dict[str, np.ndarray], name: str) -> int:
    """The single values: source, format version and grid size (returned), each of the right type and range."""
    damaged = "; the file is damaged or was not written by this program."
    source = np.asarray(data["source"])
    if np.shape(source) != () or source.dtype.kind != "U" or str(source) not in SOURCES:
        raise DatasetError(f"{name}: source must be one of {', '.join(SOURCES)}, not {_show(source)}{damaged}")
    for key, low, high in (("format_version", FORMAT_VERSION, FORMAT_VERSION), ("grid_size", 4, MAX_GRID)):
        value = np.asarray(data[key])
        if np.shape(value) != () or value.dtype.kind not in "iu" or not low <= int(value) <= high:
            expected = f"{low}" if low == high else f"a whole number from {low} to {high}"
            raise DatasetError(f"{name}: {key} must be {expected}, not {_show(value)}{damaged}")
    return int(data["grid_size"])


def _show(value: np.ndarray) -> str:
    """A stored value as a short phrase, whatever its type."""
    text = np.array2string(np.asarray(value), threshold=4)
    return (text if len(text) <= 40 else text[:37] + "...") + f" (stored as {value.dtype})"


def _check_values(data: dict[str, np.ndarray], name: str, g: int, n: int) -> None:
    """Types and ranges, before any compiled code indexes with them (numba does no bounds checks)."""
    damaged = "; the file is damaged or was not written by this program."
    for key in (*STATE_KEYS, "actions", "episode", "episode_scores"):
        if data[key].dtype.kind not in "iu":
            raise DatasetError(f"{name}: array {key} holds {data[key].dtype} values, not whole numbers{damaged}")
    if "action_values" in data:
        values = data["action_values"]
        if values.dtype.kind != "f":  # before any arithmetic on it: a string or object array has no NaN to test
            raise DatasetError(f"{name}: action_values must be finite numbers, not {values.dtype} values{damaged}")
        unsearched = np.isnan(values).all(axis=1) if values.ndim == 2 else np.zeros(len(values), bool)
        if not np.isfinite(values[~unsearched]).all():
            raise DatasetError(f"{name}: action_values must be finite numbers, or a whole row of NaN for a position "
                               f"that was not searched{damaged}")
    if "proofs" in data:
        _check_proofs(data["proofs"], name, damaged)
    if n == 0:
        return
    cells = g * g
    ranges = {"head": (0, g - 1), "direction": (0, 3), "food": (-1, cells - 1), "ttl": (0, cells),
              "since_food": (0, 2**31 - 1), "actions": (0, 2)}  # fmt: skip
    for key, (low, high) in ranges.items():
        values = data[key]
        if values.min() < low or values.max() > high:
            raise DatasetError(f"{name}: array {key} holds values outside {low} to {high}{damaged}")
    ttl = data["ttl"].reshape(n, cells).astype(np.int64)
    length = ttl.max(axis=1)
    head = data["head"].astype(np.int64)
    at_head = ttl[np.arange(n), head[:, 0] * g + head[:, 1]]
    if (length < 1).any() or (at_head != length).any():
        raise DatasetError(f"{name}: arrays ttl and head disagree (a game state has no snake, or its head is not where "
                           f"its body says){damaged}")
    food = data["food"].astype(np.int64)
    placed = np.flatnonzero(food >= 0)
    if (ttl[placed, food[placed]] != 0).any():
        raise DatasetError(f"{name}: array food puts an apple on the snake's body{damaged}")
    scores = data["episode_scores"]
    if len(scores) and (scores.min() < 0 or scores.max() > cells):
        raise DatasetError(f"{name}: array episode_scores holds values outside 0 to {cells}{damaged}")


def _check_proofs(proofs: np.ndarray, name: str, damaged: str) -> None:
    """Proof facts: numbers from 0 to 1, or a whole row of NaN (not recorded)."""
    if proofs.dtype.kind != "f":
        raise DatasetError(f"{name}: proofs must be numbers from 0 to 1, not {proofs.dtype} values{damaged}")
    flat = proofs.reshape(-1, PROOF_FACTS)
    unrecorded = np.isnan(flat).all(axis=1)
    known = flat[~unrecorded]
    if not (np.isfinite(known).all() and (known >= 0).all() and (known <= 1).all()):
        raise DatasetError(f"{name}: proofs must be numbers from 0 to 1, or a whole row of NaN{damaged}")


def load_dataset(path: str | os.PathLike, grid_size: int | None = None) -> dict[str, np.ndarray]:
    """Load and validate a dataset file; every failure is one `DatasetError` naming the file."""
    data = read_npz(path, DatasetError, "{path} does not exist; record demonstrations with python play.py first.",
                    "{path} cannot be read as a dataset ({reason}); delete it or record it again.")
    validate_dataset(data, str(path), grid_size)
    return data


def states_of(data: dict[str, np.ndarray], idx: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The state arrays (optionally a subset) in the form `SnakeBatch.from_states` takes."""
    if idx is None:
        return {k: data[k] for k in STATE_KEYS}
    return {k: data[k][idx] for k in STATE_KEYS}


def batch_of(data: dict[str, np.ndarray], idx: np.ndarray | None = None) -> SnakeBatch:
    return SnakeBatch.from_states(states_of(data, idx))
