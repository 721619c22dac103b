"""Proofs carried from move to move: for each game, the proof of safety of the move it last played.

A proof of a move (cycle_proof.py) is a prefix of head cells, then a Hamiltonian cycle that holds the body in order.
Once a move is proven, the proof's next move is proven too, for ever: the proof stays valid as the snake follows it.
A bounded search from scratch does not always find it again (measured with models/snake10.pt on 100 tuning games:
right after a proven move, the stateless search at 200 nodes found no proof in 662 positions, at 20,000 nodes still
none in 209 of them), so a network that sees only fresh searches loses its proof and then its game. The memory keeps
the fact: "this move keeps the cycle found a move ago". It is a fact about the position, not a choice: which move to
play stays the network's (or the search's); the memory only remembers the proof of whichever move was played.

A `SnakeBatch` holds one (`SnakeBatch.memory`): the proof facts (`cycle_proof.cycle_facts`) give each game's kept
proof to the search and leave every proven move's own proof as pending; `SnakeBatch.step` then keeps the pending
proof of the move played, or forgets when the move played was not proven (or no facts were computed at that move).
A kept proof applies only at the game time it was made for (`at`), so a stale one is never given.
"""

from __future__ import annotations

import numba
import numpy as np


class ProofMemory:
    """Per game: the kept proof (prefix, its length, successor array; board cells) and the time it applies at (-1:
    none), and the pending proofs of the three moves from the last facts computed, with the time they were made at."""

    def __init__(self, num_games: int, cells: int) -> None:
        g, n = int(num_games), int(cells)
        self.pre = np.zeros((g, n + 1), np.int64)
        self.npre = np.zeros(g, np.int64)
        self.succ = np.zeros((g, n), np.int64)
        self.at = np.full(g, -1, np.int64)
        self.pending_pre = np.zeros((g, 3, n + 1), np.int64)
        self.pending_npre = np.zeros((g, 3), np.int64)
        self.pending_succ = np.zeros((g, 3, n), np.int64)
        self.pending_ok = np.zeros((g, 3), bool)
        self.pending_at = np.full(g, -1, np.int64)

    _ARRAYS = ("pre", "npre", "succ", "at", "pending_pre", "pending_npre", "pending_succ", "pending_ok", "pending_at")

    def arrays(self) -> tuple[np.ndarray, ...]:
        """The arrays in the order the compiled facts read them."""
        return tuple(getattr(self, name) for name in self._ARRAYS)

    def take(self, idx: np.ndarray) -> ProofMemory:
        """A copy holding the games at `idx` (as `SnakeBatch.take`)."""
        other = object.__new__(ProofMemory)
        for name in self._ARRAYS:
            setattr(other, name, getattr(self, name)[idx])
        return other

    def put(self, idx: np.ndarray, other: ProofMemory) -> None:
        """Games `idx` take `other`'s rows, in order (a search run on a `take` of these games hands its facts back)."""
        for name in self._ARRAYS:
            getattr(self, name)[idx] = getattr(other, name)

    def forget(self, idx: np.ndarray) -> None:
        """Games `idx` start afresh (a reset game): nothing kept, nothing pending."""
        self.at[idx] = -1
        self.pending_at[idx] = -1

    def played(self, actions: np.ndarray, t: np.ndarray) -> None:
        """Each game at time `t` plays `actions`: the pending proof of the move played is kept, as it stands after
        the move, for time t + 1; a game whose move had no pending proof at time t keeps nothing."""
        _keep_played(self.pre, self.npre, self.succ, self.at, self.pending_pre, self.pending_npre, self.pending_succ,
                     self.pending_ok, self.pending_at, np.asarray(actions, np.int64), np.asarray(t, np.int64))


@numba.njit(cache=True, nogil=True)
def _keep_played(pre, npre, succ, at, ppre, pnpre, psucc, pok, pat, actions, t):  # noqa: ANN001, ANN202, PLR0913
    """`ProofMemory.played`, compiled: one pass, no copy of a whole array."""
    n = succ.shape[1]
    for i in range(actions.shape[0]):
        a = actions[i]
        if pat[i] != t[i] or a < 0 or a > 2 or not pok[i, a]:
            at[i] = -1
            continue
        m = pnpre[i, a]
        start = 1 if m > 0 else 0  # the prefix's first cell is the move's own: it is played now
        for k in range(start, m):
            pre[i, k - start] = ppre[i, a, k]
        npre[i] = m - start
        for x in range(n):
            succ[i, x] = psucc[i, a, x]
        at[i] = t[i] + 1
        pat[i] = -1


def no_memory(cells: int) -> tuple[np.ndarray, ...]:
    """Arrays shaped like a memory of no games, for a batch that keeps none (the compiled facts then remember
    nothing)."""
    return ProofMemory(0, cells).arrays()
