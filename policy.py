"""Observation encoding, the policy network, and checkpoints.

The network runs inside every Monte Carlo rollout step, so its cost is the search's cost. The default is an MLP on
an egocentric view of the whole board (rotated so the snake heads up): three planes of g*g cells (body time-to-live,
head, food), two scalars (length and hunger) and 11 per-move features, then 2 x 128 hidden units, a 3-way policy
head and a value head: about 0.11 MFLOP per sample on 10x10, far below a CNN's 14.6 MFLOP. 128 units imitate as well
as 256 (held-out accuracy 90.4 against 90.8 percent) and search 1.5 times faster (docs/experiments.md).
"""

from __future__ import annotations

import datetime as _dt
import os
from pathlib import Path

import numpy as np
import torch
from scipy import ndimage
from torch import nn

from env import DC, DR, SnakeBatch
from storage import atomic_path

CHECKPOINT_FORMAT = 1
ENCODER_NAME = "ego-board-v2"
_TABLES: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = {}


class CheckpointError(ValueError):
    """A checkpoint that cannot be used; the message names the file and what is wrong with it."""


def resolve_device(device: str = "auto") -> torch.device:
    """'auto' picks CUDA when present, else the CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"Device {device!r} was asked for but no CUDA GPU is available; use --device cpu or auto.")
    return torch.device(device)


# ----- observation ---------------------------------------------------------------------------------------------
def _rotation_tables(g: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For each heading d: view->board cell permutations (plain and mirrored) and their inverses (board->view).

    The view is the board turned so the heading points up: np.rot90 by d quarter turns (d = 0 up, 1 right, ...).
    """
    if g not in _TABLES:
        cells = np.arange(g * g).reshape(g, g)
        rot = np.stack([np.rot90(cells, d).ravel() for d in range(4)])
        rot_m = np.stack([np.fliplr(np.rot90(cells, d)).ravel() for d in range(4)])
        inv = np.argsort(rot, axis=1)
        inv_m = np.argsort(rot_m, axis=1)
        _TABLES[g] = (rot, inv, rot_m, inv_m)
    return _TABLES[g]


NUM_MOVE_FEATURES = 11
# Connectivity within each board only (the first axis is the batch): one labelling call covers every game.
_FOUR_NEIGHBOURS = np.zeros((3, 3, 3), dtype=bool)
_FOUR_NEIGHBOURS[1] = [[0, 1, 0], [1, 1, 1], [0, 1, 0]]


def obs_size(grid_size: int) -> int:
    return 3 * grid_size * grid_size + 2 + NUM_MOVE_FEATURES


def move_features(batch: SnakeBatch) -> np.ndarray:
    """(N, 11) what each move leads to, which a small MLP cannot work out from the raw board by itself.

    For each relative move (left, straight, right): whether it dies at once, the share of the free board reachable
    from the cell it enters, and whether the tail is reachable from there (the snake can then follow its own body,
    the heart of a safe Snake strategy); then the food's position ahead and to the right, in board widths. Free
    cells are labelled into connected regions for every game in one scipy call.
    """
    g = batch.grid_size
    n = batch.num_games
    ttl = batch.ttl()
    free = ttl <= 1  # the tail's cell frees on this move
    labels, _ = ndimage.label(free.reshape(n, g, g), structure=_FOUR_NEIGHBOURS)
    labels = labels.reshape(n, g * g)
    sizes = np.bincount(labels.ravel(), minlength=1)
    sizes[0] = 0  # label 0 is the occupied cells
    free_count = np.maximum(free.sum(axis=1), 1)
    rows = np.arange(n)
    tail_label = labels[rows, np.argmin(np.where(ttl > 0, ttl, g * g + 1), axis=1)]
    out = np.zeros((n, NUM_MOVE_FEATURES), dtype=np.float32)
    cells, inside, _ = batch.move_targets()
    for a in range(3):
        lab = np.where(inside[:, a], labels[rows, cells[:, a]], 0)
        out[:, 3 * a] = lab == 0
        out[:, 3 * a + 1] = sizes[lab] / free_count
        out[:, 3 * a + 2] = (lab != 0) & (lab == tail_label)
    d = batch.direction
    has_food = batch.food >= 0
    dr, dc = batch.food // g - batch.head_r, batch.food % g - batch.head_c
    out[:, 9] = np.where(has_food, dr * DR[d] + dc * DC[d], 0) / g
    out[:, 10] = np.where(has_food, dr * DR[(d + 1) & 3] + dc * DC[(d + 1) & 3], 0) / g
    return out


_MIRROR_MOVE_FEATURES = np.array([6, 7, 8, 3, 4, 5, 0, 1, 2, 9, 10])


def encode(batch: SnakeBatch, mirror: bool = False) -> np.ndarray:
    """(N, 3*g*g + 2 + 11) float32 egocentric features for every game, with no Python loop over games.

    With `mirror`, the view is flipped left-right: the same position seen in a mirror, where actions 0 and 2 swap.
    """
    g = batch.grid_size
    gg = g * g
    n = batch.num_games
    rot, inv, rot_m, inv_m = _rotation_tables(g)
    perm, back = (rot_m, inv_m) if mirror else (rot, inv)
    d = batch.direction
    length = batch.length.astype(np.float32)
    out = np.zeros((n, obs_size(g)), dtype=np.float32)
    base = (batch.t - batch.length)[:, None]
    scale = (1.0 / np.maximum(length, 1.0))[:, None]
    for k in range(4):  # one heading at a time: a plain column gather, no per-game index array
        sel = np.flatnonzero(d == k)
        view = batch.board[sel][:, perm[k]] - base[sel]
        np.maximum(view, 0, out=view)
        out[sel, :gg] = view * scale[sel]
    rows = np.arange(n)
    out[rows, gg + back[d, batch.head_r * g + batch.head_c]] = 1.0
    has_food = batch.food >= 0
    out[rows[has_food], 2 * gg + back[d[has_food], batch.food[has_food]]] = 1.0
    out[:, 3 * gg] = length / gg
    out[:, 3 * gg + 1] = batch.since_food / float(batch.starve_steps)
    moves = move_features(batch)
    if mirror:
        moves = moves[:, _MIRROR_MOVE_FEATURES]
        moves[:, 10] *= -1
    out[:, 3 * gg + 2 :] = moves
    return out


MIRROR_ACTIONS = np.array([2, 1, 0])  # left <-> right under a mirror


# ----- network -------------------------------------------------------------------------------------------------
class SnakePolicy(nn.Module):
    """MLP policy (3 logits: left, straight, right) with a value head (expected return from this state)."""

    def __init__(self, grid_size: int = 10, hidden: int = 128, layers: int = 2, value_head: bool = True) -> None:
        super().__init__()
        self.grid_size = int(grid_size)
        self.model_config = {
            "grid_size": int(grid_size), "hidden": int(hidden), "layers": int(layers),
            "value_head": bool(value_head), "encoder": ENCODER_NAME,
        }  # fmt: skip
        dims = [obs_size(grid_size)] + [int(hidden)] * int(layers)
        body: list[nn.Module] = []
        for a, b in zip(dims, dims[1:]):
            body += [nn.Linear(a, b), nn.ReLU()]
        self.body = nn.Sequential(*body)
        self.policy_head = nn.Linear(dims[-1], 3)
        self.value_head = nn.Linear(dims[-1], 1) if value_head else None
        self.meta: dict = {}

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        h = self.body(x)
        value = self.value_head(h).squeeze(-1) if self.value_head is not None else None
        return self.policy_head(h), value

    @torch.inference_mode()
    def evaluate_batch(self, batch: SnakeBatch) -> tuple[np.ndarray, np.ndarray | None]:
        """Logits (N, 3) and values (N,) for every game, in one forward pass."""
        x = torch.from_numpy(encode(batch)).to(self.device)
        logits, value = self(x)
        return logits.float().cpu().numpy(), None if value is None else value.float().cpu().numpy()

    def act(
        self,
        batch: SnakeBatch,
        greedy: bool = True,
        temperature: float = 1.0,
        rng: np.random.Generator | None = None,
    ) -> np.ndarray:
        """One action per game from one forward pass: the argmax, or a sample at `temperature` (Gumbel-max)."""
        logits, _ = self.evaluate_batch(batch)
        return select_actions(logits, greedy, temperature, rng)


def select_actions(
    logits: np.ndarray, greedy: bool = True, temperature: float = 1.0, rng: np.random.Generator | None = None
) -> np.ndarray:
    if greedy or temperature <= 0:
        return logits.argmax(axis=1)
    rng = rng if rng is not None else np.random.default_rng()
    return (logits / temperature + rng.gumbel(size=logits.shape)).argmax(axis=1)


def build_policy(model_config: dict | None = None, grid_size: int = 10) -> SnakePolicy:
    cfg = dict(model_config or {"grid_size": grid_size})
    cfg.pop("encoder", None)
    return SnakePolicy(**cfg)


# ----- checkpoints ---------------------------------------------------------------------------------------------
def save_policy(policy: SnakePolicy, path: str | os.PathLike, **meta) -> None:
    """Write the checkpoint dict (tensors and plain values only) atomically."""
    state = {k: v.detach().cpu() for k, v in policy.state_dict().items()}
    checkpoint = {
        "format_version": CHECKPOINT_FORMAT,
        "grid_size": policy.grid_size,
        "model_config": dict(policy.model_config),
        "state_dict": state,
        "iteration": int(meta.pop("iteration", policy.meta.get("iteration", 0))),
        "eval": dict(meta.pop("eval", policy.meta.get("eval", {})) or {}),
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        **meta,
    }
    with atomic_path(path, suffix=".pt") as tmp:
        torch.save(checkpoint, tmp)


def load_policy(path: str | os.PathLike, device: str | torch.device = "cpu", grid_size: int | None = None) -> SnakePolicy:
    """Load a checkpoint safely (`weights_only=True`: a pickle that would run code is refused, never run)."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"Checkpoint {path} does not exist.")
    dev = resolve_device(device) if isinstance(device, str) else device
    try:
        checkpoint = torch.load(path, map_location=dev, weights_only=True)
    except Exception as exc:
        reason = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"Checkpoint {path} cannot be read safely ({reason}); it is damaged or not a checkpoint.") from None
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint or "model_config" not in checkpoint:
        raise CheckpointError(f"{path} is not a snake-mc checkpoint: it lacks a state_dict and model_config.")
    if checkpoint.get("format_version") != CHECKPOINT_FORMAT:
        found = checkpoint.get("format_version")
        raise CheckpointError(f"Checkpoint {path} has format version {found}, but this code reads version {CHECKPOINT_FORMAT}.")
    cfg = dict(checkpoint["model_config"])
    file_grid = int(cfg.get("grid_size", checkpoint.get("grid_size", -1)))
    if grid_size is not None and file_grid != grid_size:
        raise CheckpointError(
            f"Checkpoint {path} was trained on a {file_grid} by {file_grid} grid, "
            f"but this run uses a {grid_size} by {grid_size} grid."
        )
    if cfg.get("encoder", ENCODER_NAME) != ENCODER_NAME:
        raise CheckpointError(f"Checkpoint {path} uses encoder {cfg.get('encoder')!r}, but this code uses {ENCODER_NAME!r}.")
    try:
        policy = build_policy(cfg)
        policy.load_state_dict(checkpoint["state_dict"])
    except Exception as exc:
        raise CheckpointError(
            f"Checkpoint {path} does not fit the architecture it names ({cfg}): {str(exc).splitlines()[0][:160]}"
        ) from None
    policy.meta = {k: v for k, v in checkpoint.items() if k not in ("state_dict",)}
    return policy.to(dev).eval()
