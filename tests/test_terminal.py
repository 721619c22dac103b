"""On a real terminal (a pseudo-terminal with a window size, where tqdm would draw), every command speaks in plain
sentences by default: no carriage return, no ANSI code, no box character (issue 13's acceptance). NO_COLOR is unset
here on purpose: plain output must not depend on it."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
G = 6


def on_a_terminal(argv: list[str], cwd: Path, deadline_s: float = 300.0) -> tuple[int, bytes]:
    """Run `python argv` with its output on a 24 by 80 pseudo-terminal; its exit status and every byte it wrote."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    attrs = termios.tcgetattr(slave)
    attrs[1] &= ~termios.OPOST  # no newline-to-CRLF translation: any carriage return seen is the program's own
    termios.tcsetattr(slave, termios.TCSANOW, attrs)
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"} | {"TERM": "xterm-256color"}
    proc = subprocess.Popen([sys.executable, *argv], stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, cwd=cwd,
                            env=env)  # fmt: skip
    os.close(slave)
    out, end = b"", time.monotonic() + deadline_s
    try:
        while time.monotonic() < end:
            if not select.select([master], [], [], 1.0)[0]:
                continue
            try:
                data = os.read(master, 65536)
            except OSError:  # the last writer has closed the terminal
                break
            if not data:
                break
            out += data
        return proc.wait(timeout=60), out
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)


COMMANDS = [
    ["play.py", "--scripted", "3", "--grid-size", str(G), "--workdir", "{w}"],
    ["train_imitation.py", "--workdir", "{w}", "--epochs", "2", "--hidden", "8", "--layers", "1"],
    ["evaluate.py", "{w}/data/policy_imitation.pt", "--episodes", "4"],
    ["video_recorder.py", "{w}/data/policy_imitation.pt", "--episodes", "1", "--out", "{w}/clip.gif"],
    ["iterative_train.py", "--workdir", "{w}", "--iterations", "1", "--grid-size", str(G), "--mc-episodes", "2",
     "--mc-k", "2", "--mc-h", "4", "--mc-workers", "1", "--eval-episodes", "4", "--fast-eval-episodes", "2",
     "--hard-games", "4", "--hard-h", "8", "--train-epochs", "1"],
    ["visualize_training.py", "--workdir", "{w}"],
]  # fmt: skip


@pytest.mark.slow
def test_every_command_prints_plain_sentences_on_a_terminal_by_default(tmp_path: Path) -> None:
    for command in COMMANDS:  # in order: each uses what the one before made
        argv = [str(ROOT / command[0]), *(a.replace("{w}", str(tmp_path)) for a in command[1:])]
        status, out = on_a_terminal(argv, tmp_path)
        text = out.decode("utf-8", errors="replace")
        assert status == 0, f"{command[0]} exited {status}: {text}"
        assert text.strip(), f"{command[0]} said nothing"
        assert "\r" not in text, f"{command[0]} printed a carriage return: {text!r}"
        assert "\x1b" not in text, f"{command[0]} printed an ANSI code: {text!r}"
        assert text.isascii(), f"{command[0]} printed a box character or other decoration: {text!r}"
