"""Train a Snake policy: imitation first, then iterative Monte Carlo self-improvement, narrated for the ear.

    python iterative_train.py            # trains; Ctrl-C any time; run it again to resume

Reads like the seed document: the run begins (prerequisites, bootstrap or resume, the demonstrations' baseline), says
its plan, then each iteration makes its data (self-play and the hard positions), trains, is judged against the policy
it would replace on the same games, is decided, and is committed once; a summary ends the run. Each phase lives in
snake_mc/run/ (begin, plan, phases, judging, ending); decide.py decides (pure functions); run_state.py remembers.
"""

from __future__ import annotations

import signal
import sys
import time

from snake_mc.common.cli import signals_as_stops
from snake_mc.common.compiled import first_load_sentence
from snake_mc.common.storage import NotOurFileError, file_failure
from snake_mc.run.config import TrainConfig, parse_config
from snake_mc.run.run_state import RunStateError, exclusive_run
from snake_mc.speech import narrate


# ----- the run -----------------------------------------------------------------------------------------------------
def run(cfg: TrainConfig, say: narrate.Narrator) -> int:
    """The loop: self-play, train, compare with the policy it would replace, keep or roll back, commit."""
    say.say(f"Snake Monte Carlo training starts in {cfg.paths.workdir.resolve()}, on a {cfg.grid_size} by "
            f"{cfg.grid_size} board.")
    if first_load_sentence():
        say.say(first_load_sentence())
    # Imported here, not above: torch and the compiled game load in seconds, and --help, a bad flag and the first
    # sentence answer before them.
    from snake_mc.run.begin import begin_run
    from snake_mc.run.decide import decide
    from snake_mc.run.ending import after_iteration, finish
    from snake_mc.run.judging import commit_iteration, judge, rules_of, say_decision, standing_of
    from snake_mc.run.phases import make_data, train
    from snake_mc.run.plan import say_plan, time_left

    begun = begin_run(cfg, say)
    record, demos, device = begun.record, begun.demos, begun.device
    if record.state.next_iteration > cfg.num_iterations:
        return finish(cfg, record, say, already_done=True)
    say_plan(cfg, record.state, say, begun.resumed)
    for iteration in range(record.state.next_iteration, cfg.num_iterations + 1):
        started = time.perf_counter()
        say.say(f"Iteration {iteration} of {cfg.num_iterations} begins{time_left(record.history, cfg, iteration)}.")
        say.event("iteration_start", iteration=iteration, mc_K=record.state.mc_K, mc_H=record.state.mc_H)
        archived = make_data(cfg, record, iteration, device, say)
        trained, used_human = train(cfg, record, demos, iteration, device, say)
        judged = judge(cfg, record, trained, iteration, device, say)
        decision = decide(standing_of(cfg, record.state), judged.fast, judged.full, rules_of(cfg, record.state))
        say_decision(decision, judged.full is not None, iteration, cfg.num_iterations, say)
        elapsed = commit_iteration(cfg, record, iteration, trained, judged, decision, used_human, archived, started)
        after_iteration(cfg, iteration, elapsed, say)
    return finish(cfg, record, say)


# ----- starting and stopping -------------------------------------------------------------------------------------
class Stopped(KeyboardInterrupt):
    """SIGTERM or SIGHUP: the same clean stop as Ctrl-C, with the exit status a shell expects (128 + the signal)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _stop_on_signal(signum: int, frame: object) -> None:
    raise Stopped(signum)


def _what_is_saved(p) -> str:  # noqa: ANN001 - the run's Paths
    """What a stopped run leaves, truly: the last completed iteration, or (before the first) the files it finished."""
    if p.run_state.exists():
        return "Everything up to the last completed iteration is saved; run the same command again to resume."
    return ("No iteration was completed yet; the files it finished writing are kept; run the same command again to "
            "start from them.")


def main(argv: list[str] | None = None) -> int:
    cfg = parse_config(argv)
    p = cfg.paths
    try:
        p.logs_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        print(f"Training cannot start: the work folder {p.workdir} cannot be written ({exc.strerror or exc}); "
              "choose another --workdir.", file=sys.stderr)
        return 2
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _stop_on_signal)
    try:
        with exclusive_run(p):  # before the log is opened: a refused run writes nothing into the running run's files
            return narrated_run(cfg)
    except RunStateError as exc:  # only the lock's (the folder is another run's, or its lock file is not ours)
        say = narrate.Narrator(progress=cfg.progress, details=cfg.verbose, brief=cfg.quiet)  # the console alone
        say.say(f"Training stopped: {exc}", essential=True)
        say.close()
        return 2


def ended_by(exc: Exception, cfg: TrainConfig, say: narrate.Narrator) -> int:
    """A run ended by an exception, in one sentence: bad input (a file or a flag) exits 2; a failure exits 1 with the
    state the last completed iteration's; anything unexpected names itself and --debug (which shows its traceback)."""
    from snake_mc.search.self_play import SelfPlayError  # loaded already when it was raised

    if isinstance(exc, ValueError):  # CheckpointError, DatasetError, RunStateError: bad input
        say.say(f"Training stopped: {exc}", essential=True)
        return 2
    if isinstance(exc, SelfPlayError):  # a failure, not bad input
        say.say(f"Training stopped: {str(exc).rstrip('.')}; run the same command again to resume.", essential=True)
        return 1
    if isinstance(exc, OSError):
        say.say(f"Training stopped: {file_failure(exc)}, then run the same command again to resume.", essential=True)
        return 1
    if cfg.debug:
        raise exc
    saved = _what_is_saved(cfg.paths).split(";")[0]
    say.say(f"Training stopped on an unexpected error ({type(exc).__name__}: {str(exc)[:200]}); "
            f"{saved[:1].lower()}{saved[1:]}. Run again with --debug to see where it happened.", essential=True)
    return 1


def narrated_run(cfg: TrainConfig) -> int:
    """The run with its narrator (console, train.log, events.jsonl), every way it can end said in one sentence."""
    p = cfg.paths
    try:
        say = narrate.Narrator(log_path=p.train_log, events_path=p.events, progress=cfg.progress,
                               details=cfg.verbose, brief=cfg.quiet)
    except NotOurFileError as exc:
        print(f"Training cannot start: {exc.filename} cannot be used, because {exc.strerror}; remove it and run again.",
              file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"Training cannot start: the work folder {p.workdir} cannot be written ({exc.strerror or exc}: "
              f"{exc.filename}); make it writable or choose another --workdir.", file=sys.stderr)
        return 2
    try:
        with signals_as_stops():  # a signal that arrived inside compiled code is a stop too
            return run(cfg, say)
    except KeyboardInterrupt as exc:
        how = "stopped by a signal" if isinstance(exc, Stopped) else "interrupted"
        say.say(f"Training was {how}. {_what_is_saved(p)}", essential=True)
        return 128 + exc.signum if isinstance(exc, Stopped) else 130
    except Exception as exc:  # noqa: BLE001 - every other end is said in one sentence (`ended_by`)
        return ended_by(exc, cfg, say)
    finally:
        say.close()


if __name__ == "__main__":
    sys.exit(main())
