"""Shared test setup: the repository root importable (tests `import env` as the CLI does), and every test started
with a clean signal state."""

import signal
import sys
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

_STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}


def _put_right() -> tuple[set, set]:
    """Unblock and stop ignoring Ctrl-C, SIGTERM and hang-up in this process; returns what was blocked and ignored."""
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, []) & _STOP_SIGNALS
    if blocked:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, blocked)
    ignored = {sig for sig in _STOP_SIGNALS if signal.getsignal(sig) is signal.SIG_IGN}  # inherited across exec
    for sig in ignored:
        signal.signal(sig, signal.default_int_handler if sig == signal.SIGINT else signal.SIG_DFL)
    return blocked, ignored


@pytest.fixture(autouse=True, scope="session")
def _terminal_signal_state():
    """The suite starts as a terminal starts a program, whatever started it: a shell runs a background job (CI, nohup)
    with Ctrl-C and hang-up ignored, and the subprocesses the tests start inherit that (the Ctrl-C test's driver then
    never saw its Ctrl-C, in full-suite runs only)."""
    _put_right()


@pytest.fixture(autouse=True)
def _clean_signal_state(request, _terminal_signal_state):
    """Each test leaves Ctrl-C, SIGTERM and hang-up unblocked and not ignored, since the subprocesses later tests start
    inherit this process's mask and ignored signals; a leak is put right after the test, and named."""
    yield
    blocked, ignored = _put_right()
    if blocked or ignored:
        warnings.warn(f"{request.node.nodeid} left {sorted(s.name for s in blocked)} blocked and "
                      f"{sorted(s.name for s in ignored)} ignored; put right", stacklevel=1)
