"""What a rerun needs to continue exactly where the last completed iteration left off (training_logs/run_state.json).

The state file is written last in every iteration, after that iteration's checkpoint and history, so an interrupted
iteration is simply redone: the state still points at the previous iteration's artifacts.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from storage import write_json_atomic

STATE_VERSION = 1


class RunStateError(ValueError):
    """An unreadable or inconsistent run_state.json; the message names the file and the fix."""


@dataclass
class RunState:
    next_iteration: int = 1
    mc_K: int = 5
    mc_H: int = 20
    low_improvement_streak: int = 0
    use_human_data: bool = True
    archived_mc_files: list[str] = field(default_factory=list)  # relative to the workdir, oldest first
    fast_scores: list[int] = field(default_factory=list)  # accepted policy, fast-eval episodes
    full_scores: list[int] = field(default_factory=list)  # accepted policy, full-eval episodes ([] = never)
    policy_sha256: str = ""  # of data/policy_mc.pt as accepted at the end of the last completed iteration
    elapsed_minutes: float = 0.0
    grid_size: int = 10
    reward: str = "default"
    human_baseline: float = 0.0
    version: int = STATE_VERSION

    @property
    def prior_fast(self) -> float | None:
        return sum(self.fast_scores) / len(self.fast_scores) if self.fast_scores else None

    @property
    def prior_full(self) -> float | None:
        return sum(self.full_scores) / len(self.full_scores) if self.full_scores else None

    def save(self, path: str | os.PathLike) -> None:
        write_json_atomic(path, dataclasses.asdict(self))

    @classmethod
    def load(cls, path: str | os.PathLike) -> RunState:
        path = Path(path)
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise RunStateError(
                f"{path} cannot be read ({type(exc).__name__}); move it aside to start training afresh."
            ) from None
        known = {f.name for f in dataclasses.fields(cls)}
        if not isinstance(raw, dict) or raw.get("version") != STATE_VERSION or set(raw) - known:
            raise RunStateError(f"{path} is not a run state this version understands; move it aside to start afresh.")
        return cls(**raw)


def file_sha256(path: str | os.PathLike) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
