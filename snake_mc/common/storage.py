"""Atomic file writes: every artifact goes to a temporary file beside its target and is `os.replace`d into place,
so an interrupted run never leaves a half-written file where a good one was; and `read_npz`, the one `.npz` reader."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

import numpy as np

_UMASK = os.umask(0)
os.umask(_UMASK)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path in the target's folder; on success it replaces `path`, on failure it is removed."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix + ".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp_path, 0o666 & ~_UMASK)  # mkstemp makes files owner-only; artifacts get the usual mode
        os.replace(tmp_path, target)
    except OSError as exc:  # a write to a handle names no file (a full disk said "unknown file"): name the target
        if exc.filename is not None and exc.filename != str(tmp_path):
            raise
        raise OSError(exc.errno, exc.strerror or str(exc), str(target)) from None
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


class NotOurFileError(OSError):
    """A path this program will not write through: a symbolic link, or something other than a regular file."""


def open_own(path: str | os.PathLike, mode: str = "a") -> TextIO:
    """A text file kept open to append to ("a") or to read and append ("a+"), created if need be, never through a
    symbolic link (O_NOFOLLOW) and never anything but a regular file (a FIFO is not waited on), so a planted link
    cannot make the run write to a file outside the work folder."""
    flags = os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    flags |= os.O_RDWR if "+" in mode else os.O_WRONLY
    try:
        fd = os.open(path, flags, 0o666)
    except OSError as exc:
        if exc.errno != errno.ELOOP:
            raise
        raise NotOurFileError(errno.ELOOP, "it is a symbolic link, and this program never writes through one",
                              str(path)) from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise NotOurFileError(errno.EINVAL, "it is not a regular file", str(path))
    os.set_blocking(fd, True)
    return os.fdopen(fd, mode, encoding="utf-8", buffering=1)


def file_failure(exc: OSError) -> str:
    """What went wrong with a file and the fix, as a clause: a full disk is said as such, with the file's name."""
    name = exc.filename or "a file whose name the system did not give"
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"the disk is full, so {name} could not be written; free some space"
    return (f"a file could not be written or read ({exc.strerror or exc}: {name}); free some space or fix the "
            "folder's permissions")


def writable_folder(path: str | os.PathLike) -> str | None:
    """Why a file cannot be written at `path` (its folder made if need be), as a clause; None when it can. Asked
    before long work, so the work is never lost to a folder found unwritable at the end."""
    folder = Path(path).parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-check-", delete=True):
            pass
    except OSError as exc:
        return f"{folder} cannot be written ({exc.strerror or type(exc).__name__})"
    return None


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json_atomic(path: str | os.PathLike, obj: object) -> None:
    write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def save_npz_atomic(path: str | os.PathLike, arrays: dict[str, np.ndarray]) -> None:
    """Compressed .npz written atomically (the temporary name ends in .npz so numpy adds nothing)."""
    with atomic_path(path, suffix=".npz") as tmp:
        with open(tmp, "wb") as handle:
            np.savez_compressed(handle, **arrays)


def copy_atomic(source: str | os.PathLike, target: str | os.PathLike) -> None:
    """Byte-for-byte copy that never leaves a partial target."""
    with atomic_path(target) as tmp:
        tmp.write_bytes(Path(source).read_bytes())


def read_npz(path: str | os.PathLike, error: type[Exception], missing: str, unreadable: str) -> dict[str, np.ndarray]:
    """Every array of an .npz file, read with allow_pickle=False; a missing or unreadable file raises `error` with the
    sentence `missing` or `unreadable` (which may use {path} and {reason})."""
    path = Path(path)
    if not path.exists():
        raise error(missing.format(path=path))
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {name: npz[name] for name in npz.files}
    except Exception as exc:  # zipfile, pickle refusal, truncation: all mean an unreadable file
        reason = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        raise error(unreadable.format(path=path, reason=reason)) from None
