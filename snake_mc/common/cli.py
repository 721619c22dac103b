"""The command-line plumbing every command shares: knobs declared once with their help, one parser rule (a bad flag
is one sentence, exit 2; no abbreviations; a near miss gets the flag it resembles), typed flag values whose failures
read as sentences, and the guard that turns a command's failures into one sentence (a stop from a signal inside
compiled code included). Nothing here knows a command; nothing heavy is imported."""

from __future__ import annotations

import argparse
import contextlib
import difflib
import sys
import typing
from dataclasses import field


def knob(default: object, help: str) -> typing.Any:
    """A dataclass field carrying its help sentence, from which the parser is generated."""
    return field(default=default, metadata={"help": help})


def flag_name(name: str) -> str:
    """The command-line flag of a field: lower case, dashes for underscores (mc_K_step -> --mc-k-step)."""
    return "--" + name.lower().replace("_", "-")


def default_text(value: object) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a bad flag gets one plain sentence on stderr (exit 2), not a usage dump. One rule for every
    command: a flag is typed in full (no abbreviations, which a new flag could silently change the meaning of), and a
    near miss is answered with the flag it resembles."""

    def __init__(self, *args: typing.Any, **kwargs: typing.Any) -> None:
        kwargs["allow_abbrev"] = False
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> typing.NoReturn:
        sentence = message[:1].upper() + message[1:]
        hint = ""
        if message.startswith("unrecognized arguments:"):
            flags = [a for a in self._option_string_actions if a.startswith("--")]
            for word in message.split(":", 1)[1].split():
                close = difflib.get_close_matches(word.split("=", 1)[0], flags, n=1, cutoff=0.75) if word.startswith("-") else []
                if close:
                    hint = f"; did you mean {close[0]}?"
                    break
        if hint:
            self.exit(2, f"{sentence.rstrip('.')}{hint} Run python {self.prog} --help to list the flags.\n")
        self.exit(2, f"{sentence.rstrip('.')}; run python {self.prog} --help to list the flags.\n")


def typed(kind: type) -> typing.Callable[[str], object]:
    """An argparse type whose failure reads as a sentence."""
    word = {int: "a whole number", float: "a number"}.get(kind)

    def convert(text: str) -> object:
        if word is None:
            return text
        try:
            return kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"needs {word}, not {text!r}") from None

    convert.__name__ = kind.__name__
    return convert


def interrupt_behind(exc: BaseException) -> KeyboardInterrupt | None:
    """The Ctrl-C (or SIGTERM turned into one) that caused `exc`, if any. A signal handled while compiled code (numba)
    was returning comes out as a SystemError whose cause is the interrupt; it is a stop, not a failure."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None


@contextlib.contextmanager
def signals_as_stops() -> typing.Iterator[None]:
    """Re-raise as the interrupt itself any failure an interrupt caused (see `interrupt_behind`)."""
    try:
        yield
    except Exception as exc:
        stop = interrupt_behind(exc)
        if stop is not None:
            raise stop from None
        raise


def run_guarded(prog: str, body: typing.Callable[[], int], debug: bool = False) -> int:
    """A command's work, its failures said in one sentence on stderr: a file that cannot be written or read, or an
    unexpected error, exits 1 (bad input is the command's own to refuse, with 2); the traceback only with --debug."""
    try:
        with signals_as_stops():
            return body()
    except KeyboardInterrupt:
        print(f"{prog} was interrupted; files it had finished writing are complete, and no other was written.",
              file=sys.stderr)
        return 130
    except OSError as exc:  # expected, and said in full: no traceback even with --debug
        from snake_mc.common.storage import file_failure

        print(f"{prog} stopped: {file_failure(exc)}, then run it again.", file=sys.stderr)
        return 1
    except Exception as exc:
        if debug:
            raise
        print(f"{prog} stopped on an unexpected error ({type(exc).__name__}: {str(exc)[:200]}); run it again with "
              "--debug to see where it happened.", file=sys.stderr)
        return 1
