"""The policy network and its checkpoints (the encoder it reads lives in observation.py).

The network runs inside every Monte Carlo rollout step, so its cost is the search's cost. The default is an MLP on
the egocentric encoding (three planes of g*g cells, two scalars and 23 per-move features: 325 inputs on 10x10), then
2 x 128 hidden units, a 3-way policy head and a value head: about 0.12 MFLOP per sample, far below a CNN's 14.6 MFLOP.
128 units imitate the scripted player as well as 256 (greedy mean 88.1 against 87.8 on the same 50 games) and search
faster (docs/experiments.md).
"""

from __future__ import annotations

import datetime as _dt
import os
import stat
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812 - the name torch's own documentation uses

from snake_mc.common.constants import MAX_GRID, MAX_PARAMETERS
from snake_mc.common.storage import atomic_path
from snake_mc.game.observation import ENCODER_NAME, encode, obs_size
from snake_mc.game.rules import SnakeBatch

CHECKPOINT_FORMAT = 1
MAX_WIDTH = 4096  # hidden units or layers a checkpoint may name: more is a damaged file, not a network of ours
# The most bytes a checkpoint file may hold: the largest network allowed, stored as float64, and room for the rest.
MAX_CHECKPOINT_BYTES = 8 * MAX_PARAMETERS + 16 * 2**20
_CONFIG_KEYS = {"grid_size", "hidden", "layers", "value_head", "encoder"}


class CheckpointError(ValueError):
    """A checkpoint that cannot be used; the message names the file and what is wrong with it."""


def resolve_device(device: str = "auto") -> torch.device:
    """'auto' picks CUDA when present, else the CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"Device {device!r} was asked for but no CUDA GPU is available; use --device cpu or auto.")
    return torch.device(device)


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
        self._hidden = [m for m in body if isinstance(m, nn.Linear)]  # a plain list: not registered a second time

    @property
    def device(self) -> torch.device:
        return self.policy_head.weight.device

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The same arithmetic as calling the layers, with the functions called directly: at the search's shrinking
        batches the modules' own call machinery cost more than the arithmetic (146 against 79 microseconds for a
        batch of 4 on one thread), and it holds the GIL that the search's threads share."""
        h = x
        for layer in self._hidden:
            h = torch.relu(F.linear(h, layer.weight, layer.bias))
        head = self.value_head
        value = F.linear(h, head.weight, head.bias).squeeze(-1) if head is not None else None
        return F.linear(h, self.policy_head.weight, self.policy_head.bias), value

    @torch.inference_mode()
    def evaluate_batch(self, batch: SnakeBatch, proofs: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        """Logits (N, 3) and values (N,) for every game, in one forward pass (`proofs`: the games' proof facts, when
        the caller already has them)."""
        x = torch.from_numpy(encode(batch, proofs=proofs))
        device = self.device
        logits, value = self(x if device.type == "cpu" else x.to(device))
        if device.type != "cpu":
            logits, value = logits.float().cpu(), None if value is None else value.float().cpu()
        return logits.numpy(), None if value is None else value.numpy()

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
    logits: np.ndarray,
    greedy: bool = True,
    temperature: float = 1.0,
    rng: np.random.Generator | None = None,
    noise: np.ndarray | None = None,
) -> np.ndarray:
    """The argmax, or a sample at `temperature` by Gumbel-max: `noise` (standard Gumbel, shaped like `logits`) when
    the caller owns its randomness, else draws from `rng`."""
    if greedy or temperature <= 0:
        return logits.argmax(axis=1)
    if noise is None:
        noise = (rng if rng is not None else np.random.default_rng()).gumbel(size=logits.shape)
    return (logits / temperature + noise).argmax(axis=1)


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
        with open(tmp, "wb") as handle:  # through a Python file: a full disk is an OSError, not torch's "unexpected pos"
            torch.save(checkpoint, handle)


def expected_shapes(cfg: dict) -> dict[str, tuple[int, ...]]:
    """The name and shape of every tensor of the network `cfg` names (SnakePolicy's layout), without building it."""
    dims = [obs_size(cfg["grid_size"])] + [cfg["hidden"]] * cfg["layers"]
    shapes: dict[str, tuple[int, ...]] = {}
    for i, (a, b) in enumerate(zip(dims, dims[1:])):
        shapes[f"body.{2 * i}.weight"], shapes[f"body.{2 * i}.bias"] = (b, a), (b,)
    shapes["policy_head.weight"], shapes["policy_head.bias"] = (3, dims[-1]), (3,)
    if cfg.get("value_head", True):
        shapes["value_head.weight"], shapes["value_head.bias"] = (1, dims[-1]), (1,)
    return shapes


def _read_checkpoint(path: Path, dev: torch.device) -> object:
    """The checkpoint's contents, read only from a regular file of a sane size that starts as torch's files do."""
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            raise CheckpointError(f"{path} is not a checkpoint: it is not a regular file; give the path of a .pt file "
                                  "saved by this program.")
        if info.st_size > MAX_CHECKPOINT_BYTES:
            raise CheckpointError(f"{path} is not a checkpoint of ours: it holds {info.st_size / 2**20:,.0f} MB, more "
                                  f"than the largest network allowed needs ({MAX_CHECKPOINT_BYTES / 2**20:,.0f} MB).")
        with open(path, "rb") as handle:
            magic = handle.read(4)
    except OSError as exc:
        raise CheckpointError(f"Checkpoint {path} cannot be read ({exc.strerror or type(exc).__name__}).") from None
    if not (magic.startswith(b"PK\x03\x04") or magic[:1] == b"\x80"):  # torch's zip file, or an old plain pickle
        raise CheckpointError(f"{path} is not a checkpoint: it is not a file saved by torch; give the path of a .pt "
                              "file saved by this program.")
    try:
        return torch.load(path, map_location=dev, weights_only=True)
    except Exception as exc:
        reason = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        if "Unsupported global" in str(exc) or "Weights only load failed" in str(exc):
            raise CheckpointError(f"Checkpoint {path} was refused: it holds code, not only numbers, and code in a "
                                  "checkpoint is never run; use a checkpoint saved by this program.") from None
        raise CheckpointError(f"Checkpoint {path} cannot be read safely ({reason}); it is damaged or not a checkpoint.") from None


def _checked_config(path: Path, checkpoint: dict) -> dict:
    """The architecture the checkpoint names, each value and the network's total size in bounds (nothing built)."""
    cfg = dict(checkpoint["model_config"])
    cfg.setdefault("grid_size", checkpoint.get("grid_size"))
    unknown = sorted(set(cfg) - _CONFIG_KEYS, key=str)
    if unknown:
        raise CheckpointError(f"Checkpoint {path} names an architecture with an unknown setting {unknown[0]!r}; it was "
                              "not saved by this version of the program.")
    g = cfg["grid_size"]
    if not isinstance(g, int) or isinstance(g, bool) or not 4 <= g <= MAX_GRID:
        raise CheckpointError(f"Checkpoint {path} names a board of {g!r} cells a side, not a whole number from 4 to "
                              f"{MAX_GRID}; it is damaged.")
    sizes = {k: cfg.get(k) for k in ("hidden", "layers") if k in cfg}
    if any(not isinstance(v, int) or isinstance(v, bool) or not 1 <= v <= MAX_WIDTH for v in sizes.values()):
        raise CheckpointError(f"Checkpoint {path} names a network of impossible size {sizes}; it is damaged.")
    if not isinstance(cfg.get("value_head", True), bool):
        raise CheckpointError(f"Checkpoint {path} names its value head with {cfg['value_head']!r}, not true or false; "
                              "it is damaged.")
    defaults = {"hidden": 128, "layers": 2, "value_head": True}  # SnakePolicy's own
    shapes = expected_shapes({**defaults, **cfg})
    total = sum(int(np.prod(shape)) for shape in shapes.values())
    if total > MAX_PARAMETERS:
        raise CheckpointError(f"Checkpoint {path} names a network of {total:,} weights {sizes}, more than the "
                              f"{MAX_PARAMETERS:,} this program allows; it is damaged.")
    stored = checkpoint["state_dict"]
    if not isinstance(stored, dict):
        raise CheckpointError(f"{path} is not a snake-mc checkpoint: its state_dict is not a table of tensors.")
    found = {k: tuple(v.shape) if isinstance(v, torch.Tensor) else None for k, v in stored.items()}
    if found != shapes:
        wrong = sorted(set(found) ^ set(shapes), key=str) or [k for k in shapes if found[k] != shapes[k]]
        raise CheckpointError(f"Checkpoint {path} does not fit the architecture it names ({cfg}): its tensor "
                              f"{wrong[0]!r} is missing, extra or of the wrong shape.")
    return cfg


def load_policy(path: str | os.PathLike, device: str | torch.device = "cpu", grid_size: int | None = None) -> SnakePolicy:
    """Load a checkpoint safely (`weights_only=True`: a pickle that would run code is refused, never run). The file is
    checked to be a regular file of a sane size before it is read, and the stored tensors' shapes against the
    architecture it names before anything is built, so a crafted file can neither hang the loader nor exhaust memory."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"Checkpoint {path} does not exist.")
    dev = resolve_device(device) if isinstance(device, str) else device
    checkpoint = _read_checkpoint(path, dev)
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint or not isinstance(checkpoint.get("model_config"), dict):
        raise CheckpointError(f"{path} is not a snake-mc checkpoint: it lacks a state_dict and model_config.")
    if checkpoint.get("format_version") != CHECKPOINT_FORMAT:
        found = checkpoint.get("format_version")
        raise CheckpointError(f"Checkpoint {path} has format version {found}, but this code reads version {CHECKPOINT_FORMAT}.")
    encoder = checkpoint["model_config"].get("encoder", ENCODER_NAME)
    if encoder != ENCODER_NAME:  # before the shapes: another encoder's input size is a mismatch of its own
        raise CheckpointError(
            f"Checkpoint {path} was trained on observations of encoder {encoder}, but this code encodes "
            f"{ENCODER_NAME}; train it again (delete it and rerun), or use the version of this code that made it."
        )
    cfg = _checked_config(path, checkpoint)
    file_grid = cfg["grid_size"]
    if grid_size is not None and file_grid != grid_size:
        raise CheckpointError(
            f"Checkpoint {path} was trained on a {file_grid} by {file_grid} grid, "
            f"but this run uses a {grid_size} by {grid_size} grid."
        )
    try:
        policy = build_policy(cfg)
        policy.load_state_dict(checkpoint["state_dict"])
    except Exception as exc:
        raise CheckpointError(
            f"Checkpoint {path} does not fit the architecture it names ({cfg}): {str(exc).splitlines()[0][:160]}"
        ) from None
    if not all(torch.isfinite(t).all() for t in policy.state_dict().values()):
        raise CheckpointError(f"Checkpoint {path} holds weights that are not finite numbers (NaN or infinity), so it "
                              "cannot play; use an earlier checkpoint or train it again.")
    policy.meta = {k: v for k, v in checkpoint.items() if k not in ("state_dict",)}
    return policy.to(dev).eval()
