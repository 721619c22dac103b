"""Monte Carlo search (the hot path) and parallel self-play.

`monte_carlo_actions` searches G live games at once: each game is fanned out into 3 candidate actions x K rollouts
by one array copy, every rollout gets its own food stream (so no rollout sees the real game's future food), and the
rollouts are played H moves deep by the current network (greedily by default, measured stronger than sampling;
see docs/experiments.md) with one forward pass per move for all rollouts still alive. The dead ones are dropped
from the batch every move: a forward pass on a dead rollout costs as much as on a live one, and dropping them (an
array copy) costs far less (measured with encoder v2, 64 games, K 5, H 20, one thread: 806 decisions per second
dropping every move, 728 every second move, 725 every fourth, 611 never).

The choice respects the policy: its own move stands unless another is clearly better (by `margin`) or certain to
survive where it is certain to die, and a rollout alive at the horizon but walled off from its own body counts as
dead. Without those rules the search made the strong v3 imitation policy worse (docs/experiments.md).

A snake stuck circling its own body late in a game (no rollout finds an apple it survives) gets a deeper look: with
few cells free, an exact search of every way to the apple (endgame.py); when hungry, sampled rollouts up to the
starvation limit that hunt for a detour (detours.py, which also keeps the ways found). Measured with
models/snake10.pt, K 5, H 20, 60 games: 70 percent of boards filled without either, 85 with both; on 200 games, 73
and 86 percent (docs/experiments.md).

With `threads`, groups of games are searched by Python threads at once: the rules, the encoder and torch release
the GIL, so a second core works where torch alone cannot use it on so small a network (docs/experiments.md).

The search chooses only among the moves proven safe, where a game has any: moves that keep the body in tour order
(tour.py) or after which a cycle through the whole board holds the body in order (cycle_proof.py), the game's kept
proof included (proof_memory.py: the root's facts leave each proven move's proof with the games, and the move played
keeps its own, so a game the search once proved stays proven; the facts are computed once per call, for the proven
set and the network's input alike). After such a move
the snake can never die nor starve, so the board stays fillable whatever the rollouts say; the rollouts rank the
proven moves by the apples they reach, each discounted by the moves it took (an apple sooner is worth more). The
policy's move stands among them unless another is better by `margin` too. Every action is rolled out and its value
stored as measured; only the choice is limited to the proven moves. A game whose only proven-safe move is one move
is not rolled out: there is nothing to choose, and its values are NaN, marked as not searched. The rollouts of a
game's three actions share their K food streams (rollout k of each action draws the same numbers), so the actions
are compared on like futures.

On boards with an even number of cells the rollouts are played by the greedy proven player (cycle_player.py), each
rollout keeping its own proof, and by the network only where nothing is proven: the network's input includes the
proof's facts, about 100 microseconds a position, which every rollout move would pay; a kept proof costs a search
only after an apple. Measured on 16 games of the v6 imitation policy, K 3, H 40, discount 0.98: margin 0, 11.37 moves
an apple; margin 0.5, 10.14, every board filled both ways, where the policy alone filled 14 at 10.49 and the proven
player 16 at 10.18 (docs/experiments.md). Before the proof, a game in tour order was rolled out by the network for at
least a lap (a short rollout of a tour shortcut saw its gain and never its cost), and before that it took the tour
player's move by rule, so the search could never play better than its teacher (issue 24).

Self-play, which plays whole games with this search over worker processes or Ray, lives in self_play.py: this
module is the pure search, the hot path, and nothing else.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numba
import numpy as np

from snake_mc.common.constants import DEFAULT_DISCOUNT, DEFAULT_MARGIN, DEFAULT_TEMPERATURE, DEFAULT_TRAP_CHECK, MAX_DETOURS
from snake_mc.game.cycle_player import CyclePlayer
from snake_mc.game.cycle_proof import ProofSettings
from snake_mc.game.observation import proof_facts, trapped
from snake_mc.game.rules import SnakeBatch, SnakeEnv, mix64
from snake_mc.game.tour import order_keeping_moves
from snake_mc.learn.network import SnakePolicy, select_actions
from snake_mc.search.detours import DETOUR_ROLLOUTS, PlanBook, gumbel, look_deeper, split_last_cells

# The rollouts' proofs: the greedy proven player keeps its proof, so it searches only after an apple or where a
# shorter way to the food may exist; a small node budget and no other shortest paths keep that search cheap (on 8,000
# positions of the proven player's games, all moves searched: 81 microseconds a position against 282 for the
# player's own settings, some move proven in 91 percent of positions against 99; the kept proof covers the rest).
ROLLOUT_PROOF = ProofSettings(budget=200, variants=0, slack=0)
_TIE = 1e-6  # action values closer than this count as a tie, broken by the policy's own preference
# A search thread needs this many games to gain: every move of the search hands the GIL between the threads, and
# with small batches the hand-overs cost more than the overlap brings. Measured with models/snake10.pt, K 5, H 20, two
# threads against one: 64 games 1.44 times as fast, 32 games 1.09, 16 games 0.76, 8 games 0.45.
MIN_GAMES_PER_THREAD = 32


@dataclass
class MCResult:
    """What one search returns: the chosen action per game and the evidence for it."""

    actions: np.ndarray  # (G,) int64
    values: np.ndarray  # (G, 3) float32 mean return of each action over its K rollouts; NaN: not searched
    deaths: np.ndarray  # (G, 3) int64 rollouts of each action that died
    rollout_moves: int  # moves of live rollouts simulated, the candidate move included
    facts: np.ndarray | None = None  # (G, 6) the games' proof facts at the root, as the network saw them


def _generator(seed: int | np.random.Generator | None) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def _check_search(K: int, H: int, temperature: float, discount: float, margin: float = 0.0, threads: int | None = 1,
                  detour_rollouts: int = 0) -> None:
    if int(K) != K or K < 1:
        raise ValueError(f"K, the number of rollouts per action, must be a whole number of at least 1, not {K}.")
    if int(H) != H or H < 1:
        raise ValueError(f"H, the rollout horizon, must be a whole number of at least 1, not {H}.")
    if temperature < 0:
        raise ValueError(f"The rollout temperature must be 0 (greedy) or more, not {temperature}.")
    if not 0 < discount <= 1:
        raise ValueError(f"The discount must lie above 0 and at most 1, not {discount}.")
    if not margin >= 0:
        raise ValueError(f"The search's margin over the policy's own move must be 0 or more, not {margin}.")
    if int(detour_rollouts) != detour_rollouts or not 0 <= detour_rollouts <= MAX_DETOURS:
        raise ValueError(f"The detour rollouts per move must be a whole number from 0 to {MAX_DETOURS}, "
                         f"not {detour_rollouts}.")
    if threads is not None and (int(threads) != threads or threads < 1):
        raise ValueError(f"The number of search threads must be a whole number of at least 1, not {threads}.")


@dataclass(frozen=True)
class SearchSettings:
    """How self-play's search chooses a move: built from the run's configuration (run/phases.search_settings), with
    no defaults of its own, checked once, passed whole to the workers.

    `threads` None means: let the caller decide (self-play shares the machine's cores out among its workers)."""

    K: int
    H: int
    temperature: float
    discount: float
    margin: float
    trap_check: bool
    threads: int | None
    detour_rollouts: int

    def __post_init__(self) -> None:
        _check_search(self.K, self.H, self.temperature, self.discount, self.margin, self.threads, self.detour_rollouts)

    def options(self, threads: int | None = None) -> dict:
        """The keyword arguments of `monte_carlo_actions` (without K and H), on `threads` when given."""
        return {"temperature": self.temperature, "discount": self.discount, "margin": self.margin,
                "trap_check": self.trap_check,
                "threads": threads or self.threads or 1, "detour_rollouts": self.detour_rollouts}

    def sentence(self) -> str:
        return f"{self.K} rollouts of {self.H} moves per candidate move"


@numba.njit(cache=True, nogil=True)
def _tally(returns, died, ids, rewards, ended, won, weight):  # noqa: ANN001, ANN202
    """Add one move's rewards to each live rollout's return (in float32 times `weight`, as numpy would) and mark the
    rollouts that died: one compiled pass rather than a handful of numpy calls holding the GIL."""
    w = np.float32(weight)
    for i in range(ids.shape[0]):
        returns[ids[i]] += w * rewards[i]
        if ended[i] and not won[i]:
            died[ids[i]] = True


def monte_carlo_actions(
    games: SnakeBatch,
    policy: SnakePolicy,
    K: int,
    H: int,
    *,
    temperature: float = DEFAULT_TEMPERATURE,
    discount: float = DEFAULT_DISCOUNT,
    bootstrap: bool = False,
    margin: float = DEFAULT_MARGIN,
    trap_check: bool = DEFAULT_TRAP_CHECK,
    seed: int | np.random.Generator | None = None,
    threads: int = 1,
    detour_rollouts: int = DETOUR_ROLLOUTS,
    endgame: bool = True,
    tour: bool = True,
    plans: PlanBook | None = None,
) -> MCResult:
    """Choose a move for each of the G games by K rollouts of H moves per candidate action; `games` is not touched.

    A rollout is the candidate action, then H-1 moves sampled from `policy` at `temperature` (0 means greedy).
    Its return is the sum of rewards, move i weighted by discount**i; with `bootstrap`, a rollout still alive at the
    horizon adds discount**H times the value head's estimate. With `trap_check`, a rollout alive at the horizon whose
    head can no longer reach its own body (observation.trapped) counts as dying on the next move: a 20-move rollout
    cannot see a trap close, but the encoder's search can. The policy's own preferred move stands unless another
    move's value beats it by more than `margin`, or all its rollouts die while another move's do not; then the
    best-valued move is chosen, ties going to the move the policy prefers (a strong policy knows things a short
    rollout cannot see). A rollout alive with two cells free, apart, counts as dead too (`split_last_cells`).

    A game none of whose rollouts reached an apple and survived is stuck circling its body. With `endgame` and at most
    `endgame.MAX_FREE` cells free, every way to the apple is searched exactly (endgame.py); otherwise, once it has
    gone `DETOUR_AFTER` moves without an apple, `detour_rollouts` sampled rollouts per move hunt for a detour to the
    food up to the starvation limit (detours.py). Either one's find replaces the choice; later calls given the same
    `plans` (a detours.PlanBook) follow it move by move, and a call given none keeps nothing.

    With `tour` (the proofs), a game with proven-safe moves (tour order or a cycle through the board) chooses only
    among them; one with a single proven-safe move takes it unsearched (NaN values); on boards with an even number
    of cells the rollouts follow kept proofs. The module's docstring says why.

    Up to `threads` Python threads search disjoint groups of at least `MIN_GAMES_PER_THREAD` games at once (the
    game's rules, the encoder and torch all release the GIL), which puts a second core to work where torch alone
    cannot use it on so small a network. Every game's rollouts are keyed by the game, so the answer is the same for
    any number of threads (tested; a bootstrapped value can differ in its last bit, as the network's float32 sums
    round with the batch's size).
    """
    _check_search(K, H, temperature, discount, margin, threads, detour_rollouts)
    base = _generator(seed).integers(0, 2**64, dtype=np.uint64)
    options = {"temperature": temperature, "discount": discount, "bootstrap": bootstrap, "margin": margin, "trap_check":
               trap_check, "detour_rollouts": detour_rollouts, "endgame": endgame, "plans": plans or PlanBook()}
    facts = proof_facts(games)  # once: the root's proven moves and the network's input (and the games' memory)
    proven = proven_moves(games, facts) if tour else np.zeros((games.num_games, 3), bool)
    proofs = tour and (games.grid_size**2) % 2 == 0

    def search(idx: np.ndarray) -> MCResult:
        return _search_groups(games.take(idx), policy, K, int(H), base, threads, proven=proven[idx], proofs=proofs,
                              root_facts=facts[idx], **options)

    result = _choices_first(games, proven, search)
    result.facts = facts
    return result


def proven_moves(games: SnakeBatch, facts: np.ndarray | None = None) -> np.ndarray:
    """(G, 3) the moves proven safe: they keep the body in tour order (tour.py) or a cycle through the whole board
    holds the body in order after them (cycle_proof.py; `facts`: the games' `proof_facts`, when already computed).
    A game's kept proof (its proof memory) counts: the move along it is proven."""
    facts = proof_facts(games) if facts is None else facts
    return order_keeping_moves(games)[0] | (facts[:, :3] > 0)


def _merged(idx: np.ndarray, parts: list[np.ndarray], found: list[MCResult]) -> MCResult:
    """The results of searches of `parts` (disjoint, together `idx`), in the order of `idx`."""
    if len(found) == 1:
        return found[0]
    where = np.searchsorted(idx, np.concatenate(parts))
    order = np.argsort(where)
    return MCResult(actions=np.concatenate([f.actions for f in found])[order],
                    values=np.concatenate([f.values for f in found])[order],
                    deaths=np.concatenate([f.deaths for f in found])[order],
                    rollout_moves=sum(f.rollout_moves for f in found))


def _choices_first(games: SnakeBatch, proven: np.ndarray, search) -> MCResult:
    """`search(idx)`'s answer for the games with a choice; a game with one proven-safe move and no other has nothing
    to choose among its safe moves, so it takes that move without a rollout, its values NaN ("not searched")."""
    result = MCResult(actions=proven.argmax(axis=1).astype(np.int64), values=np.full((games.num_games, 3), np.nan,
                      np.float32), deaths=np.zeros((games.num_games, 3), np.int64), rollout_moves=0)
    rest = np.flatnonzero(proven.sum(axis=1) != 1)
    if len(rest):
        found = search(rest)
        result.actions[rest], result.values[rest], result.deaths[rest] = found.actions, found.values, found.deaths
        result.rollout_moves = found.rollout_moves
    return result


def _search_groups(games: SnakeBatch, policy: SnakePolicy, K: int, H: int, base: np.uint64, threads: int,
                   proven: np.ndarray, proofs: bool, root_facts: np.ndarray, **options) -> MCResult:
    """The rollout search of `monte_carlo_actions`, its games split into groups for the search threads; `proven`
    (G, 3) marks the moves proven safe (the choice keeps to them where a game has any)."""
    groups = np.array_split(np.arange(games.num_games), max(1, min(int(threads), games.num_games // MIN_GAMES_PER_THREAD)))
    if len(groups) <= 1:
        return _search_games(games, policy, int(K), int(H), base, proven=proven, proofs=proofs,
                             root_facts=root_facts, **options)

    def search(idx: np.ndarray) -> MCResult:
        return _search_games(games.take(idx), policy, int(K), int(H), base, proven=proven[idx], proofs=proofs,
                             root_facts=root_facts[idx], **options)

    found = list(_thread_pool(len(groups)).map(search, groups))
    return MCResult(
        actions=np.concatenate([f.actions for f in found]),
        values=np.concatenate([f.values for f in found]),
        deaths=np.concatenate([f.deaths for f in found]),
        rollout_moves=sum(f.rollout_moves for f in found),
    )


_THREAD_POOLS: dict[int, ThreadPoolExecutor] = {}


def _thread_pool(size: int) -> ThreadPoolExecutor:
    """One lasting pool per size: starting threads for every search would cost more than a small search."""
    if size not in _THREAD_POOLS:
        _THREAD_POOLS[size] = ThreadPoolExecutor(max_workers=size, thread_name_prefix="mc-search")
    return _THREAD_POOLS[size]


def threads_phrase(threads: int) -> str:
    """How many threads a search may use, said aloud: with fewer games than it takes to fill them, it uses fewer."""
    return "1 thread" if threads == 1 else f"up to {threads} threads, at least {MIN_GAMES_PER_THREAD} games each"


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity where the system reports one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _search_games(
    games: SnakeBatch,
    policy: SnakePolicy,
    K: int,
    H: int,
    base: np.uint64,
    *,
    temperature: float,
    discount: float,
    bootstrap: bool,
    margin: float,
    trap_check: bool,
    detour_rollouts: int = 0,
    endgame: bool = False,
    plans: PlanBook,
    proven: np.ndarray | None = None,
    proofs: bool = False,
    root_facts: np.ndarray | None = None,
) -> MCResult:
    """`monte_carlo_actions` for one group of games, `base` being the call's draw that keys the rollouts."""
    n_games = games.num_games
    root_logits, _ = policy.evaluate_batch(games, root_facts)  # the policy's own preference, for breaking ties
    # Each game's rollouts get keys made from this call's draw and the game's own food stream (its key and how far
    # it has read), never from its place in the batch: a game searched alone or among others sees the same rollouts,
    # so a fast evaluation's games are the full evaluation's first games, searched alike.
    with np.errstate(over="ignore"):  # mix64 is a bijection, so a game key + 0..3K-1 gives 3K distinct keys
        game_keys = mix64(games.rng_key ^ mix64(games.rng_ctr ^ base))
    returns, died, fed, moves = _rollouts(games, policy, int(K), int(H), game_keys, temperature=temperature,
                                          discount=discount, bootstrap=bootstrap, trap_check=trap_check,
                                          proofs=proofs)
    values = returns.reshape(n_games, 3, int(K)).mean(axis=2).astype(np.float32)
    deaths = died.reshape(n_games, 3, int(K)).sum(axis=2).astype(np.int64)
    proven = np.zeros((n_games, 3), bool) if proven is None else proven
    actions = _choose(values, deaths == int(K), root_logits, margin)
    safe_games = np.flatnonzero(proven.any(axis=1))
    actions[safe_games] = _best_proven(values[safe_games], proven[safe_games], root_logits[safe_games], margin)
    # A snake none of whose rollouts found an apple and lived is circling its own body: with few cells left, search
    # every way to the apple; a hungry one, search for a detour by sampled rollouts. A game with proven-safe moves
    # needs neither: it cannot be stuck.
    stuck = ~(fed & ~died).reshape(n_games, 3 * int(K)).any(axis=1) & ~games.done & ~proven.any(axis=1)
    moves += look_deeper(games, policy, actions, stuck, root_logits, game_keys, int(detour_rollouts), endgame,
                         plans)
    return MCResult(actions=actions, values=values, deaths=deaths, rollout_moves=moves)


def _rollouts(games: SnakeBatch, policy: SnakePolicy, K: int, H: int, game_keys: np.ndarray, *, temperature: float,
              discount: float, bootstrap: bool, trap_check: bool,
              proofs: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Play K rollouts of H moves for each game's 3 candidate moves: each rollout's (discounted) return, whether it
    died, whether it reached an apple, in game-major order, and the rollout moves played."""
    n_games, per_game = games.num_games, 3 * K
    n_roll = n_games * per_game
    rollouts = games.repeat(per_game)  # game i owns rollouts i*3K .. i*3K+3K-1: action 0 K times, then 1, then 2
    with np.errstate(over="ignore"):
        common = np.arange(per_game, dtype=np.uint64) % np.uint64(K)  # rollout k of every action: the same food
        rollouts.reseed(mix64(np.repeat(game_keys, per_game) + np.tile(common, n_games)))
    moves = int(np.count_nonzero(~rollouts.done))
    rewards, terminated, _, ate = rollouts.step(np.tile(np.repeat(np.arange(3), K), n_games))
    returns = rewards.astype(np.float64)
    fed = ate.copy()  # rollouts that reached an apple
    died = terminated & ~rollouts.won
    ids = np.flatnonzero(~rollouts.done)  # rollout index of each game still in `live`
    live = rollouts if len(ids) == n_roll else rollouts.take(ids)
    keys = rollouts.rng_key.copy()  # each rollout's own key, for its sampling noise
    prover = CyclePlayer(rollouts, ROLLOUT_PROOF) if proofs else None
    weight = 1.0
    for step in range(1, H):
        if len(ids) == 0:
            break
        weight *= discount
        moves += len(ids)
        actions = _rollout_moves(live, ids, keys, step, policy, temperature, prover, K if step == 1 else 1)
        rewards, ended, starved, ate = live.step(actions)
        _tally(returns, died, ids, rewards, ended, live.won, weight)
        fed[ids[ate]] = True
        if ended.any() or starved.any():
            ids = ids[live.drop_finished()]  # `live` is this search's own copy, compacted in place
    if trap_check and len(ids):
        doomed_later = trapped(live) | split_last_cells(live)
        returns[ids] += weight * discount * live.rewards.death * doomed_later
        died[ids] |= doomed_later
    if bootstrap and len(ids):
        _, estimate = policy.evaluate_batch(live)
        if estimate is None:
            raise ValueError("Bootstrapping needs a policy with a value head; this network has none.")
        returns[ids] += weight * discount * estimate
    return returns, died, fed, moves


def _rollout_moves(live: SnakeBatch, ids: np.ndarray, keys: np.ndarray, step: int, policy: SnakePolicy,
                   temperature: float, prover: CyclePlayer | None, alike: int) -> np.ndarray:
    """One move of every live rollout: the greedy proven move where `prover` proves one (its proof kept per rollout,
    so following it costs no search), else the network's, sampled at `temperature` with noise hashed from (rollout,
    move), so no rollout depends on which others share its batch. Runs of `alike` rollouts (the K of one candidate
    move, just after it) that stand in the same position (the same food) are proven once."""
    actions = np.full(len(ids), -1, np.int64)
    if prover is not None:
        rows = np.arange(len(ids))
        if alike > 1:
            group = ids // alike
            first = np.r_[True, group[1:] != group[:-1]]
            lead = np.flatnonzero(first)[np.cumsum(first) - 1]
            same = (live.food == live.food[lead]) & (live.length == live.length[lead]) & ~first
            rows = np.flatnonzero(~same)
            actions[rows] = prover.act(live, rows, ids[rows])
            copies = np.flatnonzero(same)
            prover.copy(ids[lead[copies]], ids[copies])
            actions[copies] = actions[lead[copies]]
        else:
            actions = prover.act(live, rows, ids)
    rest = np.flatnonzero(actions < 0)
    if len(rest):
        part = live if len(rest) == len(ids) else live.take(rest)
        logits, _ = policy.evaluate_batch(part)
        noise = gumbel(keys[ids[rest]], step) if temperature > 0 else None
        actions[rest] = select_actions(logits, temperature <= 0, temperature, noise=noise)
    return actions


def _choose(values: np.ndarray, doomed: np.ndarray, root_logits: np.ndarray, margin: float) -> np.ndarray:
    """The policy's own move stands unless another is better by more than `margin`, or it is doomed (every rollout
    died) while another is not; otherwise the best-valued move not doomed, ties going to the policy's preference."""
    n_games = len(values)
    top = values.max(axis=1, keepdims=True)
    preferred = root_logits.argmax(axis=1)
    open_values = np.where(doomed & ~doomed.all(axis=1, keepdims=True), -np.inf, values)
    best = np.where(open_values >= open_values.max(axis=1, keepdims=True) - _TIE, root_logits, -np.inf).argmax(axis=1)
    rows = np.arange(n_games)
    stands = (values[rows, preferred] >= top[:, 0] - margin - _TIE) & ~(doomed[rows, preferred] & ~doomed.all(axis=1))
    return np.where(stands, preferred, best).astype(np.int64)


def _best_proven(values: np.ndarray, proven: np.ndarray, root_logits: np.ndarray, margin: float) -> np.ndarray:
    """Among each game's proven-safe moves: the policy's favourite stands unless another is better by more than
    `margin`; then the best-valued one, ties (within `_TIE`) going to the policy's preference."""
    open_values = np.where(proven, values, -np.inf)
    top = open_values.max(axis=1)
    favourite = np.where(proven, root_logits, -np.inf).argmax(axis=1)
    best = np.where(open_values >= top[:, None] - _TIE, root_logits, -np.inf).argmax(axis=1)
    stands = open_values[np.arange(len(values)), favourite] >= top - margin - _TIE
    return np.where(stands, favourite, best).astype(np.int64)


def monte_carlo_action(
    env: SnakeEnv,
    policy: SnakePolicy,
    K: int,
    H: int,
    seed: int | np.random.Generator | None = None,
    **options: float | bool,
) -> int:
    """The search for one `SnakeEnv` (options as `monte_carlo_actions`); the env itself is not touched."""
    return int(monte_carlo_actions(env.game, policy, K, H, seed=seed, **options).actions[0])


