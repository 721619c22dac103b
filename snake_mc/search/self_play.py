"""Self-play: whole games played with the Monte Carlo search (mc_search.py), split over worker processes or Ray.

A worker plays its whole share of episodes in lockstep with the search. Workers are `spawn`ed processes (or Ray
actors) that each load the checkpoint themselves and use one torch thread; the parent joins their data in worker
order. Every rollout is keyed by its game and move, so the same seed gives the same file however many workers share
the episodes (tested with one and two). Progress reaches the parent through a queue; a worker's failure comes back
as one sentence (`SelfPlayError`).
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import functools
import logging
import os
import re
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context, resource_tracker
from pathlib import Path
from queue import Empty

import numpy as np
import torch

from snake_mc.common.constants import BACKENDS
from snake_mc.game.datasets import STATE_KEYS, concat_datasets, empty_dataset, save_dataset
from snake_mc.game.observation import proof_facts
from snake_mc.game.perturb import forced_moves, forcing_now, perturbations
from snake_mc.game.rules import SnakeBatch
from snake_mc.learn.network import load_policy
from snake_mc.search.detours import PlanBook
from snake_mc.search.rollouts import SearchSettings, monte_carlo_actions, threads_phrase, usable_cores
from snake_mc.speech.narrate import PROGRESS_EVERY_S, Narrator, about, count, format_seconds, given_or_console, per_second

_ANSI = re.compile(r"\x1b\[[0-9;]*m")  # colour codes Ray puts in its error messages


class SelfPlayError(RuntimeError):
    """A self-play worker failed; the message is one sentence naming the worker, its episodes and the cause."""


def _run_self_play(
    policy_path: str,
    episodes: int,
    search: SearchSettings,
    seed: int,
    *,
    grid_size: int = 10,
    starve_steps: int | None = None,
    reward: str = "default",
    device: str = "cpu",
    first_episode: int = 0,
    threads: int | None = 1,
    progress: Callable[[int, int], None] | None = None,
    perturbed_share: float = 0.0,
) -> tuple[dict[str, np.ndarray], dict]:
    """One worker's share: episodes `first_episode` .. +episodes-1 of the run, played in lockstep.

    Episode j uses game seed `seed + first_episode + j`; the search at lockstep move m draws on a seed made from
    (seed, m), and each game's rollouts are keyed by the game itself, so how the episodes are split between workers
    changes nothing: one worker and two give the same data. Returns (dataset in datasets.py format with source
    "mc", stats). `threads` sets torch's thread count for the duration (None keeps the caller's); `search.threads`
    is `monte_carlo_actions`'s `threads`, which changes the speed and never the data.
    `progress(episodes_finished, moves)` hears of new work at most once a second, and whenever an episode ends.
    """
    start = time.perf_counter()
    previous_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(int(threads))
    try:
        policy = load_policy(policy_path, device=device, grid_size=grid_size)
        first = int(seed) + int(first_episode)
        games = SnakeBatch(episodes, grid_size, seeds=first + np.arange(episodes), starve_steps=starve_steps, reward=reward)
        forced_from = perturbations(seed, first_episode, episodes, perturbed_share)
        played = _play_lockstep(games, policy, search, seed, _Teller(progress), forced_from, int(first_episode))
    finally:
        torch.set_num_threads(previous_threads)
    data = _as_mc_dataset(grid_size, games, played)
    rollout_moves = played["rollout_moves"]
    stats = {
        "episodes": int(episodes),
        "moves": len(data["actions"]),
        "rollout_moves": int(rollout_moves),
        "seconds": time.perf_counter() - start,
        "mean_score": float(games.score.mean()) if episodes else 0.0,
    }
    return data, stats


def _play_lockstep(games: SnakeBatch, policy, search: SearchSettings, seed: int, told: _Teller,  # noqa: ANN001
                   forced_from: np.ndarray | None = None, first_episode: int = 0) -> dict:
    """Every game played to its end, all live games searched together at each move; returns the positions searched,
    the moves chosen, their values and games (a list per lockstep move), and the rollout moves spent. A game's
    forced moves (`forced_from`, see `perturbations`) are played but not recorded: they are nobody's choice."""
    states, actions, values, episode, proofs = [], [], [], [], []
    rollout_moves = 0
    move = 0
    forced_from = np.full(len(games), -1, np.int64) if forced_from is None else forced_from
    plans = PlanBook()  # these games' detours, followed from move to move
    while not games.done.all():
        live = np.flatnonzero(~games.done)
        now = games.take(live)
        move_seed = int(np.random.SeedSequence([int(seed) % 2**63, move]).generate_state(1)[0])
        found = monte_carlo_actions(now, policy, search.K, search.H, seed=move_seed, plans=plans, **search.options())
        games.keep_memory_of(live, now)
        forced = forcing_now(forced_from[live], move)
        if forced.any():
            rows = live[forced]
            found.actions[forced] = forced_moves(games, rows, first_episode + rows, seed, move)
        move += 1
        kept = ~forced
        states.append({k: v[kept] for k, v in now.export_states().items()})
        proofs.append(np.stack([found.facts, proof_facts(now, mirror=True)], axis=1)[kept])
        actions.append(found.actions[kept])
        values.append(found.values[kept])
        episode.append(live[kept])
        rollout_moves += found.rollout_moves
        chosen = np.ones(len(games), dtype=np.int64)  # finished games ignore their action
        chosen[live] = found.actions
        games.step(chosen)
        told.update(int(games.done.sum()), len(live))
    told.flush()
    return {"states": states, "actions": actions, "values": values, "episode": episode, "proofs": proofs,
            "rollout_moves": rollout_moves}


def _as_mc_dataset(grid_size: int, games: SnakeBatch, played: dict) -> dict[str, np.ndarray]:
    """The played moves as a self-play dataset (source "mc", with the searched values), each episode's moves
    together and in order."""
    data = empty_dataset(grid_size, "mc", with_values=True, with_proofs=True)
    data["episode_scores"] = games.score.astype(np.int32)
    if played["episode"]:
        order = np.argsort(np.concatenate(played["episode"]), kind="stable")  # each episode's moves together, in order
        for key in STATE_KEYS:
            data[key] = np.concatenate([s[key] for s in played["states"]])[order].astype(data[key].dtype)
        data["actions"] = np.concatenate(played["actions"])[order].astype(np.int8)
        data["action_values"] = np.concatenate(played["values"])[order].astype(np.float32)
        data["episode"] = np.concatenate(played["episode"])[order].astype(np.int32)
        data["proofs"] = np.concatenate(played["proofs"])[order].astype(np.float32)
    return data


class _Teller:
    """A worker's side of progress: batches its news so that telling costs nothing next to the search."""

    def __init__(self, progress: Callable[[int, int], None] | None, every_s: float = 1.0) -> None:
        self.progress, self.every_s = progress, every_s
        self.finished = self.told_finished = self.moves = 0
        self.last = time.perf_counter()

    def update(self, finished: int, moves: int) -> None:
        self.finished = finished
        self.moves += moves
        if self.progress is not None and (finished > self.told_finished or time.perf_counter() - self.last >= self.every_s):
            self.flush()

    def flush(self) -> None:
        if self.progress is not None and (self.moves or self.finished > self.told_finished):
            self.progress(self.finished - self.told_finished, self.moves)
            self.told_finished, self.moves, self.last = self.finished, 0, time.perf_counter()


class _Listener:
    """The parent's side of progress: a bar when asked for; otherwise every `every_s` seconds one sentence of moves
    so far and, when the number of moves to expect is known, about how long is left. Games in lockstep end nearly
    together, so finished games say little about the time left; moves played against moves expected do."""

    def __init__(self, narrator: Narrator, episodes: int, every_s: float, expected_moves: int | None = None) -> None:
        self.narrator, self.episodes, self.every_s, self.expected = narrator, episodes, every_s, expected_moves
        self.bar = narrator.progress(episodes, "Self-play", "episodes") if narrator.progress_mode == "bar" else None
        self.finished = self.moves = 0
        self.start = self.last = time.perf_counter()

    def __call__(self, finished: int, moves: int) -> None:
        self.finished += finished
        self.moves += moves
        if self.bar is not None:
            self.bar.update(finished)
            return
        now = time.perf_counter()
        if self.narrator.progress_mode != "lines" or now - self.last < self.every_s or self.finished >= self.episodes:
            return
        self.last = now
        elapsed = now - self.start
        left = ""
        if self.expected and 0 < self.moves < self.expected:
            left = f", {about(elapsed * (self.expected - self.moves) / self.moves)} left"
        self.narrator.say(f"Self-play so far: {count(self.moves, 'move')} in {format_seconds(elapsed)}, "
                          f"{self.finished} of {self.episodes} games finished{left}.")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


_PROGRESS_QUEUE = None  # in a worker process: where its _Teller sends news (set by _install_progress)


def _install_progress(queue) -> None:  # noqa: ANN001 - a multiprocessing queue
    """A worker's start: where its news goes; Ctrl-C is the driver's to handle (no worker tracebacks); and on Linux
    the worker is ended if the driver dies, even by SIGKILL, so no worker outlives its driver."""
    global _PROGRESS_QUEUE
    _PROGRESS_QUEUE = queue
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        if os.getppid() == 1:  # the driver died before the line above ran
            os._exit(1)
    except OSError:  # not Linux: workers still end when their work is done or the driver stops them
        pass


def _news_of(worker: int) -> Callable[[int, int], None]:
    """Worker `worker`'s progress, sent to the parent tagged with its number, so the parent knows who fell silent."""

    def send(finished: int, moves: int) -> None:
        _PROGRESS_QUEUE.put((worker, finished, moves))

    return send


def _worker(job: dict, worker: int = 0) -> tuple:
    """Run one share and report failure as a value: ("ok", data, stats) or ("error", reason).

    Returning the reason (rather than raising) gives one plain sentence from either backend, whose own exception
    wrappers differ."""
    try:
        data, stats = _run_self_play(**job, progress=_news_of(worker) if _PROGRESS_QUEUE is not None else None)
    except Exception as exc:  # noqa: BLE001 - every failure becomes one SelfPlayError in the parent
        return ("error", _reason(exc))
    return ("ok", data, stats)


def _reason(exc: BaseException) -> str:
    """An exception as a short plain clause: the original cause of a Ray wrapper, no colour codes, first line."""
    cause = getattr(exc, "cause", None) or exc
    lines = [line.strip() for line in _ANSI.sub("", str(cause)).splitlines() if line.strip()]
    return (lines[0][:200] if lines else type(cause).__name__).rstrip(".")


def _shares(num_episodes: int, workers: int) -> list[tuple[int, int]]:
    """(first_episode, episodes) per worker: contiguous ranges, the larger shares first."""
    sizes = [num_episodes // workers + (i < num_episodes % workers) for i in range(workers)]
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(int)
    return [(int(s), int(n)) for s, n in zip(starts, sizes)]


STALL_S = 300.0  # a worker sends news at least once a second while it plays; this long a silence means it hangs
# (the default of --mc-worker-timeout; it counts from a worker's start, so it also bounds the worker's start-up)


def _stop_workers(pool: ProcessPoolExecutor, grace_s: float = 0.0) -> list[int]:
    """End every worker, none waited on without a bound: after `grace_s` seconds to end of themselves (idle workers
    whose games are done), or at once (a stopped driver, a hung worker). Returns the process ids of the workers that
    had to be ended (a worker stopped or stuck while starting never ends of itself, and the executor's own
    `shutdown(wait=True)` would wait for it forever)."""
    processes = list((pool._processes or {}).values())  # the executor offers no public way to end its workers
    if grace_s > 0:
        pool.shutdown(wait=False)  # each idle worker is told to end
        deadline = time.monotonic() + grace_s
        for process in processes:
            process.join(timeout=max(0.0, deadline - time.monotonic()))
    ended = [process.pid for process in processes if process.is_alive()]
    for process in processes:
        if process.is_alive():
            process.kill()  # SIGKILL ends a stopped process too
    for process in processes:
        process.join(timeout=5.0)
    pool.shutdown(wait=False, cancel_futures=True)
    return ended


def _hung(jobs: list[dict], worker: int, stall_s: float) -> SelfPlayError:
    """The sentence for a worker that fell silent: which one, for how long, and the flag that allows more."""
    first, count = jobs[worker]["first_episode"], jobs[worker]["episodes"]
    return SelfPlayError(
        f"Self-play worker {worker + 1} of {len(jobs)}, on episodes {first} to {first + count - 1}, sent no news for "
        f"{format_seconds(stall_s)}, so every worker was stopped as hung and no data was written; if the machine is "
        f"only very busy, raise --mc-worker-timeout (now {stall_s:g} seconds)."
    )


# The stops deferred while helper processes start: Ctrl-C, a hang-up, and SIGTERM, which the driver turns into the
# same clean stop (a SIGTERM in the middle of a worker's start left it reading half its start-up data, a traceback
# after the driver's sentence: the driver's test sends it just as self-play begins).
_STOPS = (signal.SIGINT, signal.SIGHUP, signal.SIGTERM)


@contextlib.contextmanager
def _stops_deferred() -> Iterator[None]:
    """Start helper processes with Ctrl-C, hang-up and SIGTERM blocked in them (a signal mask survives exec; the
    driver ends its workers with SIGKILL, and they die with it), and let none of these signals interrupt this process
    while it starts them: a signal blocked in the main thread still reaches another
    thread, and Python then runs its handler in the main thread anyway, in the middle of a process's start, which
    left a spawned worker reading half its start-up data ("EOFError: Ran out of input", a traceback after the
    sentence). A signal that arrives meanwhile is raised again, to the usual handler, once the processes are started."""
    caught: list[int] = []
    main = threading.current_thread() is threading.main_thread()  # handlers belong to the main thread alone
    previous = {sig: signal.signal(sig, lambda number, _frame: caught.append(number)) for sig in _STOPS} if main else {}
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, set(_STOPS))
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for sig in dict.fromkeys(caught):
            signal.raise_signal(sig)


def _run_processes(jobs: list[dict], listener: Callable[[int, int], None], stall_s: float = STALL_S) -> list[tuple]:
    """Every job on its own spawned process, news passed to `listener`; a worker silent for `stall_s` seconds (from
    its start, or from its last news) stops them all with a `SelfPlayError` naming it."""
    context = get_context("spawn")  # no forked copies of torch's threads or of the parent's state
    # The helper processes start with Ctrl-C and hang-up blocked (a signal mask survives exec). A Ctrl-C that reached
    # a worker still importing torch printed a traceback per worker; a hang-up sent to the whole process group (a
    # closed terminal) killed multiprocessing's resource tracker, whose relaunched copy printed a traceback per shared
    # queue. The driver handles both signals and stops the workers itself; the tracker ends with the driver.
    with _stops_deferred():
        resource_tracker.ensure_running()
        queue = context.Queue()
        pool_options = {"mp_context": context, "initializer": _install_progress, "initargs": (queue,)}
        pool = ProcessPoolExecutor(max_workers=len(jobs), **pool_options)
    try:
        with _stops_deferred():
            futures = [pool.submit(_worker, job, i) for i, job in enumerate(jobs)]
        last_news = [time.monotonic()] * len(jobs)
        while True:
            running = not all(f.done() for f in futures)
            try:  # news until every worker is done, then whatever is still in the queue
                while True:
                    worker, finished, moves = queue.get(timeout=0.5) if running else queue.get_nowait()
                    last_news[worker] = time.monotonic()
                    listener(finished, moves)
            except Empty:
                pass
            if not running:
                results = [f.result() for f in futures]
                say = given_or_console(getattr(listener, "narrator", None))
                # A detail, not news: when the games are quick (a snake in tour order needs no rollout), one worker
                # often plays every share while the other is still importing torch, and ending it is routine.
                for pid in _stop_workers(pool, grace_s=10.0):
                    say.say(f"Self-play worker process {pid} did not end within 10 seconds of every game being done "
                            "(still starting, stopped or stuck), so it was ended; every game was played.", detail=True)
                return results
            now = time.monotonic()
            silent = [i for i, f in enumerate(futures) if not f.done() and now - last_news[i] > stall_s]
            if silent:
                _stop_workers(pool)
                raise _hung(jobs, silent[0], stall_s)
    except BaseException as exc:  # Ctrl-C, SIGTERM, a hang: no worker may outlive this call
        _stop_workers(pool)
        if isinstance(exc, BrokenProcessPool):
            raise SelfPlayError(
                "A self-play worker process died without a word (killed or out of memory); no data was written."
            ) from None
        raise


RAY_REACH_S = 10.0  # how long a Ray cluster's address may take to answer before it is taken for unreachable


def ray_address_problem(address: str, timeout_s: float = RAY_REACH_S) -> str | None:
    """Why nothing answers at a Ray cluster's `address` (host:port, or ray://host:port), as a clause; None when its
    port answers, or for "auto", which Ray resolves itself. Asked before ray.init, which retries an address that does
    not answer for minutes, printing its own C++ warnings."""
    if address in ("auto", "local"):
        return None
    host, sep, port = address.split("://", 1)[-1].rstrip("/").rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        return "it is not of the form host:port"
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s) as conn:
            return _not_grpc(conn, timeout_s)
    except TimeoutError:
        return f"nothing answered within {timeout_s:g} seconds"
    except OSError as exc:  # refused, no route, a name that does not resolve
        return (exc.strerror or type(exc).__name__).rstrip(".").lower()


# The start of every HTTP/2 connection (RFC 9113, 3.4), then an empty SETTINGS frame: a Ray cluster's address (its
# GCS, or the Ray Client server) is a gRPC server, which answers with a SETTINGS frame of its own at once.
_HTTP2_HELLO = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])
_SETTINGS_FRAME = 4


def _not_grpc(conn: socket.socket, timeout_s: float) -> str | None:
    """Why what answers on `conn` is not a Ray cluster, as a clause; None when it speaks gRPC (HTTP/2). ray.init on a
    port that accepts and never answers waits for ever, and a service of another kind is met with pages of C++ logs."""
    conn.settimeout(timeout_s)
    try:
        conn.sendall(_HTTP2_HELLO)
        reply = conn.recv(9)
    except TimeoutError:
        return f"something accepted the connection but said nothing within {timeout_s:g} seconds, as no Ray cluster would"
    except OSError as exc:
        return f"the connection failed ({(exc.strerror or type(exc).__name__).rstrip('.').lower()})"
    if len(reply) < 4 or reply[3] != _SETTINGS_FRAME:
        return "what answers there is not a Ray cluster"
    return None


def check_ray_address(address: str | None) -> None:
    """Raise `SelfPlayError` naming `address` when nothing answers there (see `ray_address_problem`)."""
    problem = None if address is None else ray_address_problem(address)
    if problem is not None:
        raise SelfPlayError(f"The Ray cluster at {address} cannot be reached ({problem}); check --ray-address, or drop "
                            "it to play on a private local Ray instance.")


@contextlib.contextmanager
def _loopback_only(ray) -> Iterator[None]:  # noqa: ANN001 - the ray module, imported by the caller
    """A local Ray instance started inside binds every server (GCS, raylet, workers) to 127.0.0.1 only: Ray's ports
    have no authentication, and on Linux Ray otherwise listens on every interface. Ray turns a loopback node address
    into the machine's own unless its clusters are off (ray_constants.ENABLE_RAY_CLUSTER, read when an address is
    resolved), so that switch is off while the instance starts."""
    from ray._private import ray_constants

    before = ray_constants.ENABLE_RAY_CLUSTER
    ray_constants.ENABLE_RAY_CLUSTER = False
    try:
        yield
    finally:
        ray_constants.ENABLE_RAY_CLUSTER = before


# Ray workers send no news while they play, so their silence cannot be watched as the processes' is: a Ray share
# must end within this many worker timeouts (an hour at the default --mc-worker-timeout of 300 seconds).
RAY_RESULT_TIMEOUTS = 12


class RayTimeout(Exception):
    """A wait on Ray that went past its bound; the message says which wait and how long it was."""


def bounded(call: Callable[[], object], timeout_s: float, what: str) -> object:
    """`call()` on a daemon thread, waited for at most `timeout_s` seconds: Ray's own waits (ray.init on an address
    that accepts and never answers, for one) can last for ever. Raises RayTimeout naming `what`; the thread is left to
    end with the process."""
    done, box = threading.Event(), {}

    def run() -> None:
        try:
            box["value"] = call()
        except BaseException as exc:  # noqa: BLE001 - carried to the waiting thread and raised there
            box["error"] = exc
        finally:
            done.set()

    threading.Thread(target=run, name=f"bounded {what}", daemon=True).start()
    if not done.wait(timeout_s):
        raise RayTimeout(f"{what} gave no answer within {format_seconds(timeout_s)}")
    if "error" in box:
        raise box["error"]
    return box.get("value")


def _run_ray(jobs: list[dict], ray_address: str | None, stall_s: float = STALL_S) -> list[tuple]:
    try:
        import ray
        from ray.util.multiprocessing import Pool
    except ImportError:
        raise SelfPlayError("The Ray backend needs Ray; install it with pip install -r requirements-cluster.txt.") from None
    started = not ray.is_initialized()  # a Ray this call starts, this call shuts down
    if started:
        check_ray_address(ray_address)
    where = "a local Ray instance" if ray_address is None else f"the Ray cluster at {ray_address}"
    try:
        if started:  # in this thread: Ray starts a local instance only from the main thread
            _ray_init(ray, jobs, ray_address)
        pool = Pool(processes=len(jobs))
        try:
            return bounded(lambda: pool.map(_worker, jobs, chunksize=1), RAY_RESULT_TIMEOUTS * stall_s,
                           f"Self-play on {where}")
        finally:
            pool.terminate()
    except RayTimeout as exc:
        raise SelfPlayError(f"{exc}, so it was stopped and no data was written; if the cluster is only slow, raise "
                            f"--mc-worker-timeout (now {stall_s:g} seconds; Ray's share may take "
                            f"{RAY_RESULT_TIMEOUTS} times as long).") from None
    except Exception as exc:
        raise SelfPlayError(f"Self-play on {where} failed ({_reason(exc)}); no data was written.") from None
    finally:
        if started and ray.is_initialized():
            ray.shutdown()


def _ray_init(ray, jobs: list[dict], ray_address: str | None) -> None:  # noqa: ANN001 - the ray module
    """Join the cluster at `ray_address`, or start a private local instance bound to the loopback address."""
    # Ray's workers do not start in this folder, so they are told where the snake_mc package lives.
    here = str(Path(__file__).resolve().parents[2])
    path = os.pathsep.join(p for p in (here, os.environ.get("PYTHONPATH", "")) if p)
    options = {"log_to_driver": False, "logging_level": logging.ERROR, "runtime_env": {"env_vars": {"PYTHONPATH": path}}}
    if ray_address is None:
        with _loopback_only(ray):  # private: nothing outside this machine can reach it
            ray.init(num_cpus=len(jobs), include_dashboard=False, _node_ip_address="127.0.0.1", **options)
    else:
        ray.init(address=ray_address, **options)


def _play_shares(
    jobs: list[dict],
    backend: str,
    ray_address: str | None,
    listener: Callable[[int, int], None],
    failure: Callable[[int, str], SelfPlayError],
    stall_s: float = STALL_S,
) -> list[tuple]:
    """Every worker's ("ok", data, stats) or ("error", reason), in worker order. Ray workers report no progress.
    One local worker plays in this process, where no silence can be watched for: it is this process."""
    if backend == "ray":
        return _run_ray(jobs, ray_address, stall_s)
    if len(jobs) > 1:
        return _run_processes(jobs, listener, stall_s)
    # In this process, also on one torch thread (restored afterwards). The cause stays chained, so a Ctrl-C or SIGTERM
    # that numba turned into a failure is still seen as a stop by the command (cli.signals_as_stops).
    try:
        return [("ok", *_run_self_play(**jobs[0], progress=listener))]
    except Exception as exc:
        raise failure(0, _reason(exc)) from exc


def _check_arguments(num_episodes: int, num_workers: int, backend: str, worker_timeout_s: float,
                     perturbed_share: float = 0.0) -> None:
    """Raise ValueError, in one sentence, for an argument self-play cannot run with."""
    if not 0 <= perturbed_share <= 1:
        raise ValueError(f"The share of perturbed self-play games must lie from 0 to 1, not {perturbed_share}.")
    if int(num_episodes) != num_episodes or num_episodes < 1:
        raise ValueError(f"The number of self-play episodes must be a whole number of at least 1, not {num_episodes}.")
    if int(num_workers) != num_workers or num_workers < 1:
        raise ValueError(f"The number of self-play workers must be a whole number of at least 1, not {num_workers}.")
    if backend not in BACKENDS:
        raise ValueError(f"Backend {backend!r} is not known; use process or ray.")
    if not worker_timeout_s > 0:
        raise ValueError(f"The self-play worker timeout must be a positive number of seconds, not {worker_timeout_s}.")


def _failure(shares: list[tuple[int, int]], i: int, reason: str) -> SelfPlayError:
    """Worker i's failure in one sentence: its episodes, the cause, and that nothing was written."""
    first, count = shares[i]
    return SelfPlayError(
        f"Self-play worker {i + 1} of {len(shares)} failed on episodes {first} to {first + count - 1}: {reason}; "
        "no data was written."
    )


def _checked(results: list[tuple], failure: Callable[[int, str], SelfPlayError]) -> list[tuple]:
    """The workers' results when every one is ("ok", data, stats); else the first failure, raised."""
    for i, result in enumerate(results):
        if result[0] != "ok":
            raise failure(i, result[1])
    return results


def _stats(data: dict, results: list[tuple], episodes: int, workers: int, search_threads: int, seconds: float) -> dict:
    """The figures of a finished self-play: moves, speed, scores, and the workers' own times."""
    moves = len(data["actions"])
    return {
        "episodes": episodes,
        "workers": workers,
        "search_threads": search_threads,
        "moves": moves,
        "rollout_moves": sum(r[2]["rollout_moves"] for r in results),
        "seconds": seconds,
        "worker_seconds": max(r[2]["seconds"] for r in results),  # the slowest worker's own time, start-up excluded
        "moves_per_second": moves / max(seconds, 1e-9),
        "mean_score": float(data["episode_scores"].mean()),
        "max_score": int(data["episode_scores"].max()),
    }


def generate_self_play_data(
    policy_path: str,
    num_episodes: int,
    search: SearchSettings,
    num_workers: int = 1,
    save_path: str | None = None,
    *,
    seed: int = 0,
    grid_size: int = 10,
    starve_steps: int | None = None,
    reward: str = "default",
    device: str = "cpu",
    backend: str = "process",
    ray_address: str | None = None,
    narrator: Narrator | None = None,
    progress_every_s: float = PROGRESS_EVERY_S,
    expected_moves: int | None = None,
    worker_timeout_s: float = STALL_S,
    perturbed_share: float = 0.0,
) -> tuple[dict[str, np.ndarray], dict]:
    """Play `num_episodes` self-play games with Monte Carlo search; return (dataset, stats) and optionally save.

    A `perturbed_share` of the episodes get `FORCED_MOVES` random safe moves forced on them at a random move
    (`perturbations`), unrecorded, so the data holds positions off the teacher's path.

    The episodes are split into contiguous ranges, one per worker; each worker loads the checkpoint itself and runs on
    one torch thread (with one worker and the process backend, here in this process). One torch thread per worker,
    because on a busy machine torch's threads wait on each other and a two-thread forward pass can run ten times
    slower; a worker puts more cores to work by searching on `search.threads` threads instead (None: this machine's
    cores shared out among the local workers, and one on Ray, whose workers each hold one CPU of the cluster).
    Any worker failure raises one `SelfPlayError` and nothing is written. Progress: episode milestones, and every
    `progress_every_s` seconds a sentence of moves so far, with the time left when `expected_moves` (all games'
    moves together) is known (local workers; Ray workers report when they finish). A local worker process that
    sends no news for `worker_timeout_s` seconds is taken for hung: every worker is stopped and `SelfPlayError` says
    which one fell silent.
    """
    _check_arguments(num_episodes, num_workers, backend, worker_timeout_s, perturbed_share)
    say = given_or_console(narrator)
    workers = min(int(num_workers), int(num_episodes))
    search_threads = search.threads or (1 if backend == "ray" else max(1, usable_cores() // workers))
    search = dataclasses.replace(search, threads=search_threads)
    shares = _shares(int(num_episodes), workers)
    common = {"policy_path": str(policy_path), "search": search, "seed": int(seed), "grid_size": int(grid_size),
              "starve_steps": starve_steps, "reward": reward, "device": device, "threads": 1,
              "perturbed_share": float(perturbed_share)}  # fmt: skip
    jobs = [{**common, "first_episode": first, "episodes": count} for first, count in shares]
    _say_starting(say, num_episodes, search, workers, backend, search_threads)
    failure = functools.partial(_failure, shares)
    start = time.perf_counter()
    listener = _Listener(say, int(num_episodes), progress_every_s, expected_moves)
    try:
        results = _checked(_play_shares(jobs, backend, ray_address, listener, failure, float(worker_timeout_s)), failure)
    finally:
        listener.close()
    data = concat_datasets([r[1] for r in results], source="mc")
    stats = _stats(data, results, int(num_episodes), workers, int(search_threads), time.perf_counter() - start)
    if save_path is not None:
        save_dataset(save_path, data)
    _say_finished(say, stats)
    return data, stats


def _say_starting(say: Narrator, episodes: int, search: SearchSettings, workers: int, backend: str, threads: int) -> None:
    say.say(
        f"Self-play starts: {episodes} episodes, {search.sentence()}, "
        f"on {workers} worker{'s' if workers != 1 else ''} with the {backend} backend, each searching on "
        f"{threads_phrase(threads)}.",
        detail=True,  # the driver has just said the games, the moves and the time expected
    )


def _say_finished(say: Narrator, stats: dict) -> None:
    """The end of self-play in a few words (the next phase may be silent for a while: a 31-second silence spanned
    self-play's end and the hard positions on a loaded machine), then as details its score, moves and speed; and the
    event."""
    say.say(f"Self-play finished in {format_seconds(stats['seconds'])}.")
    say.say(f"Its mean self-play score was {stats['mean_score']:.1f}.", detail=True)
    say.say(f"It played {count(stats['moves'], 'move')}, {per_second(stats['moves_per_second'], 'move')}.", detail=True)
    say.event("self_play", **stats)
