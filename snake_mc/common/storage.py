"""Atomic file writes: every artifact goes to a temporary file beside its target and is `os.replace`d into place,
so an interrupted run never leaves a half-written file where a good one was; and `checked_npz` and `read_npz`, the
`.npz` readers, which learn what a file would unpack to before they read any array of it (a small file of deflated
zeros, or a header that claims a huge shape, would otherwise take gigabytes of memory)."""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import stat
import tempfile
import zipfile
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


MAX_NPZ_BYTES = 4_000_000_000  # what `read_npz` lets a file unpack to unless told less: a dataset (demonstrations,
# self-play data) of many millions of moves stays far below it, and a file asking for more is damaged or crafted


class NpzRefused(ValueError):
    """An .npz file refused before any array of it is read; `reason` says why as a clause, for a caller's own sentence."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path} cannot be read: {reason}; it is damaged or was not written by this program, so move "
                         "it aside and run again.")
        self.reason = reason


class NpzTooLarge(NpzRefused):
    """An .npz file whose arrays would unpack to more memory than its kind can need."""


def _amount(size: int) -> str:
    """A number of bytes as heard: '8.0 GB', '250 MB', '12 kB'."""
    if size >= 10**9:
        return f"{size / 10**9:.1f} GB"
    if size >= 10**6:
        return f"{size / 10**6:.0f} MB"
    return f"{size / 10**3:.0f} kB" if size >= 10**3 else f"{size} bytes"


def _unpacked_size(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> int:
    """What one member would take in memory: its size in the zip directory, or more where its .npy header claims a
    larger array (numpy makes the whole array before it reads the data). Only the header is read."""
    with archive.open(info) as member:
        start = member.read(len(np.lib.format.MAGIC_PREFIX) + 2)
        if len(start) < 8 or not start.startswith(np.lib.format.MAGIC_PREFIX):
            return info.file_size  # numpy reads such a member as bytes: its directory size is what it takes
        version = (start[6], start[7])
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(member)
        elif version == (2, 0):
            shape, _, dtype = np.lib.format.read_array_header_2_0(member)
        else:  # (3, 0), or a version numpy will refuse when reading: its own reader says which
            from numpy.lib import _format_impl

            shape, _, dtype = _format_impl._read_array_header(member, version)
    return max(info.file_size, math.prod(shape) * dtype.itemsize)


def checked_npz(path: str | os.PathLike, max_bytes: int) -> np.lib.npyio.NpzFile:
    """An .npz file opened for reading (numpy.load, allow_pickle=False, no memory map) once its members are known to
    unpack to at most `max_bytes` together, from the zip directory and each array's header, before any array is read;
    otherwise `NpzTooLarge`, naming the file. A file that is not a zip archive is refused too (`NpzRefused`: numpy
    would read a plain .npy file whole). Use it as a context manager, like numpy.load's NpzFile."""
    path = Path(path)
    with open(path, "rb") as handle:
        if handle.read(4) not in (b"PK\x03\x04", b"PK\x05\x06"):
            raise NpzRefused(path, "it is not an .npz archive")
    npz = np.load(path, allow_pickle=False, mmap_mode=None)
    try:
        total = sum(_unpacked_size(npz.zip, info) for info in npz.zip.infolist())
        if total > max_bytes:
            raise NpzTooLarge(path, f"it would unpack to {_amount(total)} of memory, more than the {_amount(max_bytes)} "
                                    "such a file can need")
    except BaseException:
        npz.close()
        raise
    return npz


def read_npz(path: str | os.PathLike, error: type[Exception], missing: str, unreadable: str,
             max_bytes: int = MAX_NPZ_BYTES) -> dict[str, np.ndarray]:
    """Every array of an .npz file (`checked_npz`: at most `max_bytes` of them, allow_pickle=False); a missing or
    unreadable file raises `error` with the sentence `missing` or `unreadable` (which may use {path} and {reason})."""
    path = Path(path)
    if not path.exists():
        raise error(missing.format(path=path))
    try:
        with checked_npz(path, max_bytes) as npz:
            return {name: npz[name] for name in npz.files}
    except NpzRefused as exc:
        raise error(unreadable.format(path=path, reason=exc.reason)) from None
    except Exception as exc:  # zipfile, pickle refusal, truncation: all mean an unreadable file
        reason = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        raise error(unreadable.format(path=path, reason=reason)) from None
