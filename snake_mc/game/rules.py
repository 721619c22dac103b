"""Snake rules: `SnakeBatch` (N games stepped in lockstep as numpy arrays) and `SnakeEnv` (one game, Gymnasium API).

There is one implementation of the rules, in `SnakeBatch.step`; `SnakeEnv` is a view over a batch of one game.

The board is a "timestamp" board: each cell holds the move number at which the head last entered it, and a cell is
occupied while ``board > t - length``. A move therefore writes one cell per game and never touches the rest of the
board, and the time-to-live of each body cell (how many moves until the tail frees it) is ``board - (t - length)``.

Food comes from a counter-based random stream per game (a splitmix64 hash of the game's key and a draw counter)
rather than one `numpy.random.Generator` object per game: the stream is two integers, so cloning a game is an array
copy and re-seeding thousands of Monte Carlo rollouts at once is one vectorised hash, with no Python loop.
"""

from __future__ import annotations

import gymnasium as gym
import numba
import numpy as np

from snake_mc.common.constants import MAX_GRID, REWARD_PRESETS, RewardPreset
from snake_mc.game.proof_memory import ProofMemory

# Absolute directions, clockwise: 0 up, 1 right, 2 down, 3 left. Relative actions: 0 left, 1 straight, 2 right.
DIRECTIONS = ("up", "right", "down", "left")
DR = np.array([-1, 0, 1, 0], dtype=np.int64)
DC = np.array([0, 1, 0, -1], dtype=np.int64)
EMPTY = np.int32(-(2**30))  # timestamp of a cell the snake never entered

_U64 = np.uint64
_GOLDEN = _U64(0x9E3779B97F4A7C15)
_MIX1 = _U64(0xBF58476D1CE4E5B9)
_MIX2 = _U64(0x94D049BB133111EB)


@numba.njit(cache=True, nogil=True)
def _mix64_one(x):  # noqa: ANN001, ANN202
    """splitmix64 finaliser of one uint64 (wrapping arithmetic): the one copy of the hash, for compiled code."""
    z = x + _GOLDEN
    z = (z ^ (z >> _U64(30))) * _MIX1
    z = (z ^ (z >> _U64(27))) * _MIX2
    return z ^ (z >> _U64(31))


@numba.njit(cache=True, nogil=True)
def _stream_uniform(key, ctr):  # noqa: ANN001, ANN202
    """Draw number `ctr` of the food stream `key`, uniform in [0, 1): the one definition of the stream."""
    return (_mix64_one(key ^ (ctr * _GOLDEN + _U64(1))) >> _U64(11)) * (1.0 / 9007199254740992.0)


_mix64_each = numba.vectorize(["uint64(uint64)"], cache=True)(_mix64_one.py_func)
_stream_uniform_each = numba.vectorize(["float64(uint64, uint64)"], cache=True)(_stream_uniform.py_func)


_NEIGHBOURS: dict[int, np.ndarray] = {}


def neighbour_table(g: int) -> np.ndarray:
    """(g*g, 4) the cell one step up, right, down and left of each cell, or -1 off the board."""
    if g not in _NEIGHBOURS:
        r, c = np.divmod(np.arange(g * g), g)
        rr, cc = r[:, None] + DR, c[:, None] + DC
        _NEIGHBOURS[g] = np.where((rr >= 0) & (rr < g) & (cc >= 0) & (cc < g), rr * g + cc, -1).astype(np.int64)
    return _NEIGHBOURS[g]


def mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: a well-spread 64-bit hash of each element."""
    return _mix64_each(np.asarray(x, dtype=_U64))


def seed_keys(seeds: np.ndarray | list[int] | int) -> np.ndarray:
    """The stream key of a game from its integer seed; the same seed gives the same game everywhere."""
    return mix64(np.atleast_1d(np.asarray(seeds, dtype=np.int64)).astype(_U64))


def reward_preset(name: str) -> RewardPreset:
    """Look a preset up by name, with an error that lists the known names."""
    try:
        return REWARD_PRESETS[name]
    except KeyError:
        known = ", ".join(sorted(REWARD_PRESETS))
        raise ValueError(f"Unknown reward preset {name!r}; choose one of {known}.") from None


def _check_grid(grid_size: int) -> int:
    if int(grid_size) != grid_size or grid_size < 4:
        raise ValueError(f"Grid size {grid_size} is too small; it must be a whole number of at least 4.")
    if grid_size > MAX_GRID:
        raise ValueError(f"Grid size {grid_size} is too large; it must be at most {MAX_GRID}.")
    return int(grid_size)


class SnakeBatch:
    """N Snake games as arrays, stepped together; cheap to clone (`repeat`, `take`) and to re-seed."""

    def __init__(
        self,
        num_games: int,
        grid_size: int = 10,
        seeds: np.ndarray | list[int] | int | None = None,
        starve_steps: int | None = None,
        reward: str = "default",
    ) -> None:
        g = _check_grid(grid_size)
        self.grid_size = g
        self.starve_steps = int(starve_steps) if starve_steps is not None else 2 * g * g
        if self.starve_steps < 1:
            raise ValueError(f"starve_steps must be at least 1, not {self.starve_steps}.")
        self.reward_name = reward
        self.rewards = reward_preset(reward)
        n = int(num_games)
        self.board = np.full((n, g * g), EMPTY, dtype=np.int32)
        self.head_r = np.zeros(n, dtype=np.int64)
        self.head_c = np.zeros(n, dtype=np.int64)
        self.direction = np.zeros(n, dtype=np.int64)
        self.food = np.full(n, -1, dtype=np.int64)
        self.length = np.zeros(n, dtype=np.int32)
        self.t = np.zeros(n, dtype=np.int32)
        self.since_food = np.zeros(n, dtype=np.int32)
        self.score = np.zeros(n, dtype=np.int32)
        self.terminated = np.zeros(n, dtype=bool)
        self.truncated = np.zeros(n, dtype=bool)
        self.won = np.zeros(n, dtype=bool)
        self.rng_key = np.zeros(n, dtype=_U64)
        self.rng_ctr = np.zeros(n, dtype=_U64)
        self.memory: ProofMemory | None = ProofMemory(n, g * g)  # each game's proof of its last move (proof_memory.py)
        if seeds is None:
            seeds = np.arange(n)
        seeds = np.broadcast_to(np.asarray(seeds, dtype=np.int64), (n,))
        self.reset_games(np.arange(n), seeds)

    # ----- shape and state -------------------------------------------------------------------------------------
    @property
    def num_games(self) -> int:
        return len(self.length)

    def __len__(self) -> int:
        return self.num_games

    @property
    def done(self) -> np.ndarray:
        return self.terminated | self.truncated

    def _new_like(self) -> SnakeBatch:
        other = object.__new__(SnakeBatch)
        other.grid_size = self.grid_size
        other.starve_steps = self.starve_steps
        other.reward_name = self.reward_name
        other.rewards = self.rewards
        return other

    _ARRAYS = (
        "board", "head_r", "head_c", "direction", "food", "length", "t", "since_food", "score",
        "terminated", "truncated", "won", "rng_key", "rng_ctr",
    )  # fmt: skip

    def take(self, idx: np.ndarray) -> SnakeBatch:
        """A new batch holding copies of the games at `idx` (fancy indexing copies)."""
        other = self._new_like()
        idx = np.asarray(idx)
        for name in self._ARRAYS:
            setattr(other, name, getattr(self, name)[idx])
        other.memory = self.memory.take(idx) if self.memory is not None else None
        return other

    def repeat(self, k: int) -> SnakeBatch:
        """Each game copied k times in a row: game i becomes games i*k .. i*k+k-1. The copies share the food
        stream until `reseed` gives them their own. The copies keep no proof memory: they are a search's rollouts,
        whose player keeps its own proofs (cycle_player.py)."""
        other = self._new_like()
        for name in self._ARRAYS:
            setattr(other, name, np.repeat(getattr(self, name), k, axis=0))
        other.memory = None
        return other

    def drop_finished(self) -> np.ndarray:
        """Keep only the unfinished games, in order, moved to the front in place by one compiled pass; returns their
        former indices. The search does this after every rollout move, where `take` would copy every array."""
        kept = np.empty(self.num_games, dtype=np.int64)
        m = _compact_games(
            self.board, self.head_r, self.head_c, self.direction, self.food, self.length, self.t, self.since_food,
            self.score, self.terminated, self.truncated, self.won, self.rng_key, self.rng_ctr, kept,
        )  # fmt: skip
        for name in self._ARRAYS:
            setattr(self, name, getattr(self, name)[:m])
        if self.memory is not None:
            self.memory = self.memory.take(kept[:m])
        return kept[:m]

    def keep_memory_of(self, idx: np.ndarray, part: SnakeBatch) -> None:
        """Games `idx` take the proof memory of `part`, a `take` of them that a policy or the search has just looked
        at, so that stepping these games keeps the proof of the move each plays (proof_memory.py)."""
        if self.memory is not None and part.memory is not None:
            self.memory.put(np.asarray(idx), part.memory)

    def copy(self) -> SnakeBatch:
        return self.take(np.arange(self.num_games))

    def reseed(self, keys: np.ndarray) -> None:
        """Give every game a fresh food stream (uint64 keys), so clones stop sharing the real game's future food."""
        self.rng_key = np.asarray(keys, dtype=_U64).copy()
        self.rng_ctr = np.zeros(self.num_games, dtype=_U64)

    # ----- randomness ------------------------------------------------------------------------------------------
    def _uniform(self, idx: np.ndarray) -> np.ndarray:
        """One uniform [0, 1) draw from each listed game's stream, advancing it."""
        uniform = _stream_uniform_each(self.rng_key[idx], self.rng_ctr[idx])
        self.rng_ctr[idx] += _U64(1)
        return uniform

    # ----- reset and step --------------------------------------------------------------------------------------
    def reset_games(self, idx: np.ndarray, seeds: np.ndarray) -> None:
        """Start fresh games at `idx` with the given integer seeds: length 3 in the middle, heading right."""
        idx = np.asarray(idx, dtype=np.int64)
        if len(idx) == 0:
            return
        g = self.grid_size
        mid = g // 2
        start = np.full(g * g, EMPTY, dtype=np.int32)  # every fresh board is the same: three cells, head first,
        start[mid * g + mid - np.arange(3)] = -np.arange(3)  # timestamps 0, -1, -2 at t = 0
        self.board[idx] = start
        self.head_r[idx] = mid
        self.head_c[idx] = mid
        self.direction[idx] = 1
        self.length[idx] = 3
        for name in ("t", "since_food", "score"):
            getattr(self, name)[idx] = 0
        for name in ("terminated", "truncated", "won"):
            getattr(self, name)[idx] = False
        self.rng_key[idx] = seed_keys(seeds)
        self.rng_ctr[idx] = 0
        if self.memory is not None:
            self.memory.forget(idx)
        free_cells = np.flatnonzero(start == EMPTY)  # the same draw _place_food would make, without a board scan
        self.food[idx] = free_cells[np.floor(self._uniform(idx) * len(free_cells)).astype(np.int64)]

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Apply one relative action per game. Finished games do not move and earn nothing.

        Returns (rewards, terminated, truncated, ate): each an array over games, for this move only. The game arrays
        are updated in place, by one compiled pass (`_step_games`), so a step costs no numpy call per rule.
        """
        a = np.asarray(actions)
        if a.shape != (self.num_games,):
            raise ValueError(f"Expected {self.num_games} actions, got an array of shape {a.shape}.")
        if a.dtype.kind not in "iu" and a.size and (a != np.floor(a)).any():
            raise ValueError(f"Action {a[a != np.floor(a)][0]} is not valid; actions are whole numbers 0, 1 and 2.")
        n = self.num_games
        if self.memory is not None:
            self.memory.played(a.astype(np.int64, copy=False), self.t)
        rewards = np.empty(n, dtype=np.float32)
        ended, starved, ate = np.empty(n, dtype=bool), np.empty(n, dtype=bool), np.empty(n, dtype=bool)
        rw = self.rewards
        bad = _step_games(
            self.board, self.head_r, self.head_c, self.direction, self.food, self.length, self.t, self.since_food,
            self.score, self.terminated, self.truncated, self.won, self.rng_key, self.rng_ctr,
            a.astype(np.int64, copy=False), self.grid_size, self.starve_steps,
            float(rw.apple), float(rw.death), float(rw.win), float(rw.step), rewards, ended, starved, ate,
        )  # fmt: skip
        if bad >= 0:
            raise ValueError(f"Action {a[bad]} is not valid; actions are 0 (left), 1 (straight) and 2 (right).")
        return rewards, ended, starved, ate

    # ----- views -----------------------------------------------------------------------------------------------
    def move_targets(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For each game and relative move (left, straight, right): the flat cell the head would enter (clipped to
        the board), whether that cell is on the board, and whether the move is safe this step (on the board and
        free, the tail's cell counting as free since it leaves). Each is (N, 3)."""
        g = self.grid_size
        dirs = (self.direction[:, None] + np.array([3, 0, 1])) & 3
        r = self.head_r[:, None] + DR[dirs]
        c = self.head_c[:, None] + DC[dirs]
        inside = (r >= 0) & (r < g) & (c >= 0) & (c < g)
        cell = np.clip(r, 0, g - 1) * g + np.clip(c, 0, g - 1)
        safe = inside & (np.take_along_axis(self.ttl(), cell, axis=1) <= 1)
        return cell, inside, safe

    def ttl(self) -> np.ndarray:
        """(N, g*g) moves until each body cell frees (head = length, tail = 1), 0 where empty."""
        return np.maximum(self.board - (self.t - self.length)[:, None], 0).astype(np.int32)

    def export_states(self) -> dict[str, np.ndarray]:
        """Compact, encoder-independent game states (what datasets store)."""
        g = self.grid_size
        return {
            "ttl": self.ttl().reshape(-1, g, g).astype(np.int16),
            "head": np.stack([self.head_r, self.head_c], axis=1).astype(np.int16),
            "direction": self.direction.astype(np.int8),
            "food": self.food.astype(np.int16),
            "since_food": self.since_food.astype(np.int32),
        }

    @classmethod
    def from_states(
        cls,
        states: dict[str, np.ndarray],
        seeds: np.ndarray | None = None,
        starve_steps: int | None = None,
        reward: str = "default",
    ) -> SnakeBatch:
        """Rebuild live games from `export_states` arrays (time restarts at 0; the food stream from `seeds`)."""
        ttl = np.asarray(states["ttl"])
        n, g = ttl.shape[0], ttl.shape[1]
        batch = cls(0, g, starve_steps=starve_steps, reward=reward)
        flat = ttl.reshape(n, g * g).astype(np.int32)
        length = flat.max(axis=1) if n else np.zeros(0, np.int32)
        batch.board = np.where(flat > 0, flat - length[:, None], EMPTY).astype(np.int32)
        head = np.asarray(states["head"], dtype=np.int64).reshape(n, 2)
        batch.head_r, batch.head_c = head[:, 0].copy(), head[:, 1].copy()
        batch.direction = np.asarray(states["direction"], dtype=np.int64).copy()
        batch.food = np.asarray(states["food"], dtype=np.int64).copy()
        batch.length = length.astype(np.int32)
        batch.t = np.zeros(n, dtype=np.int32)
        batch.since_food = np.asarray(states.get("since_food", np.zeros(n)), dtype=np.int32).copy()
        batch.score = np.maximum(batch.length - 3, 0).astype(np.int32)
        batch.terminated = np.zeros(n, dtype=bool)
        batch.truncated = np.zeros(n, dtype=bool)
        batch.won = np.zeros(n, dtype=bool)
        batch.rng_key = seed_keys(np.arange(n) if seeds is None else seeds)
        batch.rng_ctr = np.zeros(n, dtype=_U64)
        batch.memory = ProofMemory(n, g * g)  # a rebuilt game has no proof of a move before it
        return batch

    def grid(self, i: int) -> np.ndarray:
        """Game i as a (g, g) int8 grid: 0 empty, 1 body, 2 head, 3 food."""
        g = self.grid_size
        out = (self.ttl()[i] > 0).astype(np.int8)
        out[self.head_r[i] * g + self.head_c[i]] = 2
        if self.food[i] >= 0:
            out[self.food[i]] = 3
        return out.reshape(g, g)


@numba.njit(cache=True, nogil=True)
def _step_games(board, head_r, head_c, direction, food, length, t, since_food, score, terminated, truncated, won,  # noqa: ANN001, ANN202, PLR0913
                rng_key, rng_ctr, actions, g, starve, apple, death, win, step_reward, rewards, ended, starved, ate):  # fmt: skip
    """The rules of one move for every game, in place: the one implementation `SnakeBatch.step` runs.

    A finished game does not move. A move into a wall or a body cell that is not freed this move dies; onto the food
    it grows, scores, and draws new food uniformly among the free cells from the game's own stream (none once the
    board is full, which wins); `starve` moves without food truncate the game. Rewards are summed in float64 in the
    order apple, death, win, step, then rounded to float32. Returns the index of the first action outside 0..2,
    before touching any game, or -1 once every game has moved."""
    for i in range(board.shape[0]):
        if actions[i] < 0 or actions[i] > 2:
            return i
    for i in range(board.shape[0]):
        rewards[i], ended[i], starved[i], ate[i] = 0.0, False, False, False
        if terminated[i] or truncated[i]:
            continue
        d = (direction[i] + actions[i] + 3) & 3
        r, c = head_r[i] + DR[d], head_c[i] + DC[d]
        t_next = t[i] + 1
        if r < 0 or r >= g or c < 0 or c >= g or board[i, r * g + c] > t_next - length[i]:
            terminated[i], ended[i], rewards[i] = True, True, death  # the tail's cell frees as the head enters
            continue
        cell = r * g + c
        board[i, cell] = t_next
        t[i], head_r[i], head_c[i], direction[i] = t_next, r, c, d
        gained = 0.0
        if cell == food[i]:
            ate[i] = True
            length[i] += 1
            score[i] += 1
            since_food[i] = 0
            food[i] = -1
            gained = apple
            if length[i] >= g * g:
                won[i] = terminated[i] = ended[i] = True
                rewards[i] = np.float32(gained + win + step_reward)
                continue
            base = t[i] - length[i]
            counts = 0
            for k in range(g * g):
                counts += board[i, k] <= base
            pick = np.int64(np.floor(_stream_uniform(rng_key[i], rng_ctr[i]) * counts))
            rng_ctr[i] += _U64(1)
            if counts > 0:
                for k in range(g * g):
                    if board[i, k] <= base:
                        if pick == 0:
                            food[i] = k
                            break
                        pick -= 1
        else:
            since_food[i] += 1
        if since_food[i] >= starve:
            truncated[i] = starved[i] = True
        rewards[i] = np.float32(gained + step_reward)
    return -1


@numba.njit(cache=True, nogil=True)
def _compact_games(board, head_r, head_c, direction, food, length, t, since_food, score, terminated, truncated, won,  # noqa: ANN001, ANN202, PLR0913
                   rng_key, rng_ctr, kept):  # fmt: skip
    """Move every unfinished game's row to the front, in order; `kept` gets their former indices. Returns how many."""
    m = 0
    for i in range(board.shape[0]):
        if terminated[i] or truncated[i]:
            continue
        if m != i:
            board[m, :] = board[i, :]
            head_r[m], head_c[m], direction[m], food[m] = head_r[i], head_c[i], direction[i], food[i]
            length[m], t[m], since_food[m], score[m] = length[i], t[i], since_food[i], score[i]
            terminated[m], truncated[m], won[m] = False, False, won[i]
            rng_key[m], rng_ctr[m] = rng_key[i], rng_ctr[i]
        kept[m] = i
        m += 1
    return m


_TEXT = {0: ".", 1: "o", 2: "@", 3: "*"}
_BACKGROUND, _FOOD, _HEAD, _TAIL = (24, 24, 24), (225, 45, 45), (250, 215, 50), (70, 130, 230)
_TAIL_GREEN, _NECK_GREEN = np.array([25, 95, 45]), np.array([120, 225, 110])  # the body shades from tail to neck


def draw_board(ttl: np.ndarray, head: int, food: int, cell: int) -> np.ndarray:
    """An RGB picture of one board, (g*cell, g*cell, 3) uint8: each body cell a square inset from its edges, joined
    to the next cell toward the head, so the snake's path can be followed even when it fills the board; the body
    shades from dark to light toward the neck; the head is yellow, the tail blue and the food red."""
    g = int(round(len(ttl) ** 0.5))
    img = np.empty((g * cell, g * cell, 3), np.uint8)
    img[:] = _BACKGROUND
    inset = max(1, cell // 8)
    length = int(ttl.max()) if ttl.size else 0
    by_ttl = np.full(length + 2, -1, np.int64)
    body = np.flatnonzero(ttl > 0)
    by_ttl[ttl[body]] = body
    for c in body:
        v = int(ttl[c])
        shade = _TAIL_GREEN + (_NECK_GREEN - _TAIL_GREEN) * (v - 1) / max(length - 2, 1)
        colour = shade.astype(np.uint8)
        r, k = divmod(int(c), g)
        top, left, bottom, right = r * cell + inset, k * cell + inset, (r + 1) * cell - inset, (k + 1) * cell - inset
        nxt = by_ttl[v + 1] if v + 1 <= length else -1  # the next cell toward the head: bridge the gap to it
        if nxt >= 0:
            nr, nk = divmod(int(nxt), g)
            top, bottom = min(top, nr * cell + inset), max(bottom, (nr + 1) * cell - inset)
            left, right = min(left, nk * cell + inset), max(right, (nk + 1) * cell - inset)
            img[top:bottom, left:right] = colour
        else:
            img[top:bottom, left:right] = colour
    for c, colour in ((by_ttl[1] if length > 1 else -1, _TAIL), (head if length else -1, _HEAD)):  # drawn last
        if c >= 0:
            r, k = divmod(int(c), g)
            img[r * cell + inset:(r + 1) * cell - inset, k * cell + inset:(k + 1) * cell - inset] = colour
    if food >= 0:
        r, k = divmod(int(food), g)
        pad = max(1, cell // 4)
        img[r * cell + pad:(r + 1) * cell - pad, k * cell + pad:(k + 1) * cell - pad] = _FOOD
    return img


class SnakeEnv(gym.Env):
    """One game of Snake with the Gymnasium contract; the rules are `SnakeBatch`'s, on a batch of one."""

    metadata = {"render_modes": ["ansi", "rgb_array"], "render_fps": 10}

    def __init__(
        self,
        grid_size: int = 10,
        starve_steps: int | None = None,
        reward: str = "default",
        render_mode: str | None = None,
        cell_pixels: int = 32,
    ) -> None:
        self.grid_size = _check_grid(grid_size)
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"Render mode {render_mode!r} is not supported; use 'ansi' or 'rgb_array'.")
        self.render_mode = render_mode
        self.cell_pixels = int(cell_pixels)
        self.observation_space = gym.spaces.Box(0, 3, shape=(self.grid_size, self.grid_size), dtype=np.int8)
        self.action_space = gym.spaces.Discrete(3)
        self.game = SnakeBatch(1, self.grid_size, seeds=[0], starve_steps=starve_steps, reward=reward)

    @classmethod
    def from_state(
        cls,
        grid_size: int,
        body: list[tuple[int, int]],
        direction: str,
        food: tuple[int, int] | None,
        **kwargs,
    ) -> SnakeEnv:
        """A game in any position: `body` head first as (row, col), `direction` a word, `food` a cell or None."""
        env = cls(grid_size, **kwargs)
        g = env.grid_size
        if direction not in DIRECTIONS:
            raise ValueError(f"Direction {direction!r} is not one of up, down, left, right.")
        cells = [tuple(int(v) for v in cell) for cell in body]
        if len(cells) < 1:
            raise ValueError("The body must hold at least one cell, the head.")
        for cell in cells:
            if not (0 <= cell[0] < g and 0 <= cell[1] < g):
                raise ValueError(f"Body cell {cell} lies outside the {g} by {g} board.")
        if len(set(cells)) != len(cells):
            raise ValueError(f"The body {cells} overlaps itself.")
        for a, b in zip(cells, cells[1:]):
            if abs(a[0] - b[0]) + abs(a[1] - b[1]) != 1:
                raise ValueError(f"Body cells {a} and {b} are not neighbours; the body must be one connected line.")
        if len(cells) >= 2:
            d = DIRECTIONS.index(direction)
            if (cells[0][0] + DR[d], cells[0][1] + DC[d]) == cells[1]:
                raise ValueError(f"Direction {direction!r} points back into the body at {cells[1]}.")
        if food is not None:
            food = (int(food[0]), int(food[1]))
            if not (0 <= food[0] < g and 0 <= food[1] < g) or food in cells:
                raise ValueError(f"Food cell {food} must lie on the board and off the snake.")
        ttl = np.zeros((1, g, g), dtype=np.int16)
        for i, (r, c) in enumerate(cells):
            ttl[0, r, c] = len(cells) - i
        states = {
            "ttl": ttl,
            "head": np.array([cells[0]], dtype=np.int16),
            "direction": np.array([DIRECTIONS.index(direction)], dtype=np.int8),
            "food": np.array([-1 if food is None else food[0] * g + food[1]], dtype=np.int16),
            "since_food": np.zeros(1, dtype=np.int32),
        }
        env.game = SnakeBatch.from_states(
            states, seeds=[0], starve_steps=env.game.starve_steps, reward=env.game.reward_name
        )
        return env

    @property
    def score(self) -> int:
        return int(self.game.score[0])

    def _obs(self) -> np.ndarray:
        return self.game.grid(0)

    def _info(self) -> dict:
        return {"score": self.score, "length": int(self.game.length[0]), "won": bool(self.game.won[0])}

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        if seed is None:
            seed = int(self.np_random.integers(0, 2**62))
        self.game.reset_games(np.array([0]), np.array([seed]))
        return self._obs(), self._info()

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict]:
        if self.game.done[0]:
            raise RuntimeError("The game is over; call reset() before stepping again.")
        if not (int(action) == action and 0 <= action <= 2):
            raise ValueError(f"Action {action} is not valid; actions are 0 (left), 1 (straight) and 2 (right).")
        rewards, terminated, truncated, _ = self.game.step(np.array([int(action)]))
        return self._obs(), float(rewards[0]), bool(terminated[0]), bool(truncated[0]), self._info()

    def clone(self) -> SnakeEnv:
        """An independent copy of this game (same food stream; reseed the copy's `game` to change it)."""
        other = object.__new__(SnakeEnv)
        other.__dict__.update(self.__dict__)
        other.game = self.game.copy()
        return other

    def render_text(self) -> str:
        return "\n".join("".join(_TEXT[int(v)] for v in row) for row in self._obs())

    def render_rgb(self) -> np.ndarray:
        game = self.game
        head = int(game.head_r[0]) * self.grid_size + int(game.head_c[0])
        return draw_board(game.ttl()[0], head, int(game.food[0]), self.cell_pixels)

    def render(self):  # noqa: ANN201 - the Gymnasium signature
        if self.render_mode == "ansi":
            return self.render_text()
        if self.render_mode == "rgb_array":
            return self.render_rgb()
        return None


ENV_ID = "SnakeMC-v0"


def register_env() -> None:
    """Register `SnakeEnv` with Gymnasium as `ENV_ID`, so that `gymnasium.make("SnakeMC-v0", grid_size=10)` makes it.

    Done when this module (or the `env` face) is imported; a second call leaves the registry as it is, where a second
    `gymnasium.register` would warn that it overrides the first."""
    if ENV_ID not in gym.registry:
        gym.register(id=ENV_ID, entry_point=f"{__name__}:SnakeEnv")


register_env()
