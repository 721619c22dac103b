"""The policy's face: `from policy import load_policy` gives the network and its checkpoints, kept in
`snake_mc/learn/network.py`.

`SnakePolicy` acts on a `SnakeBatch` (`act(batch, greedy=True)`); `save_policy` writes a checkpoint atomically and
`load_policy` reads one safely, refusing a bad file with a `CheckpointError` that says why.
"""

from snake_mc.learn.network import (
    CHECKPOINT_FORMAT,
    CheckpointError,
    SnakePolicy,
    build_policy,
    load_policy,
    resolve_device,
    save_policy,
    select_actions,
)

__all__ = [
    "CHECKPOINT_FORMAT",
    "CheckpointError",
    "SnakePolicy",
    "build_policy",
    "load_policy",
    "resolve_device",
    "save_policy",
    "select_actions",
]
