""".npz files are read only after their size is known: a small file whose arrays would unpack to gigabytes (a
header that claims a huge shape, or deflated zeros) is refused in one sentence naming it, before any array is read
(issue 26, finding 3)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest

from snake_mc.common.storage import NpzTooLarge, checked_npz, read_npz, save_npz_atomic


def npy_claiming(shape: tuple[int, ...], dtype: str, data: bytes = b"") -> bytes:
    """An .npy member whose header claims `shape` of `dtype`, followed by `data` (far less than it claims)."""
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buffer, {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False, "shape": shape})
    return buffer.getvalue() + data


def write_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, blob in members.items():
            archive.writestr(name, blob)
    return path


@pytest.fixture
def arrays_read(monkeypatch) -> list[str]:
    """Every array numpy reads from an .npz from here on (an array refused by its size is never read)."""
    seen: list[str] = []
    real = np.lib.format.read_array

    def spy(fp, *args, **kwargs):
        seen.append(getattr(fp, "name", "?"))
        return real(fp, *args, **kwargs)

    monkeypatch.setattr(np.lib.format, "read_array", spy)
    return seen


def test_a_sound_file_reads_as_it_was_written(tmp_path: Path) -> None:
    path = tmp_path / "sound.npz"
    save_npz_atomic(path, {"a": np.arange(10, dtype=np.int16), "s": np.array("scripted")})
    with checked_npz(path, max_bytes=10_000) as npz:
        assert sorted(npz.files) == ["a", "s"]
        assert npz["a"].tolist() == list(range(10)) and str(npz["s"]) == "scripted"


def test_a_header_claiming_gigabytes_is_refused_before_any_array_is_read(tmp_path: Path, arrays_read) -> None:
    path = write_zip(tmp_path / "bomb.npz", {"small.npy": npy_claiming((3,), "<i2", b"\0" * 6),
                                             "huge.npy": npy_claiming((10**9,), "<f8", b"\0" * 64)})
    with pytest.raises(NpzTooLarge) as refused:
        checked_npz(path, max_bytes=10**8)
    message = str(refused.value)
    assert str(path) in message and "8.0 GB" in message and "100 MB" in message
    assert len(message.splitlines()) == 1 and message.endswith(".")
    assert arrays_read == []


def test_a_member_larger_than_the_limit_in_the_zip_directory_is_refused(tmp_path: Path, arrays_read) -> None:
    path = write_zip(tmp_path / "text.npz", {"a.npy": npy_claiming((2,), "<i2", b"\0" * 4), "notes": b"x" * 5_000})
    with pytest.raises(NpzTooLarge, match="text.npz"):
        checked_npz(path, max_bytes=4_000)
    assert arrays_read == []


def test_members_are_counted_together(tmp_path: Path) -> None:
    members = {f"m{i}.npy": npy_claiming((1_000,), "<i1", b"\0" * 1_000) for i in range(5)}
    path = write_zip(tmp_path / "many.npz", members)
    with checked_npz(path, max_bytes=6_000) as npz:
        assert len(npz.files) == 5
    with pytest.raises(NpzTooLarge):
        checked_npz(path, max_bytes=4_000)


def test_an_npy_file_named_npz_is_not_unpacked(tmp_path: Path, arrays_read) -> None:
    """numpy.load reads a plain .npy file whole, so a file that is not a zip archive is refused before numpy sees it."""
    path = tmp_path / "plain.npz"
    path.write_bytes(npy_claiming((10**9,), "<f8", b"\0" * 64))
    with pytest.raises(ValueError, match="not an .npz archive"):
        checked_npz(path, max_bytes=10**8)
    assert arrays_read == []


def test_read_npz_says_the_size_in_the_callers_own_sentence(tmp_path: Path) -> None:
    path = write_zip(tmp_path / "bomb.npz", {"huge.npy": npy_claiming((10**9,), "<f8")})
    with pytest.raises(KeyError) as refused:
        read_npz(path, KeyError, "{path} is missing.", "{path} cannot be read ({reason}); delete it.", max_bytes=10**8)
    message = refused.value.args[0]
    assert message.startswith(f"{path} cannot be read (") and "8.0 GB" in message and message.endswith("; delete it.")


def test_a_demonstrations_file_that_would_unpack_to_gigabytes_is_refused_by_the_dataset_loader(tmp_path: Path,
                                                                                               arrays_read) -> None:
    from snake_mc.game import datasets
    from snake_mc.game.scripted import record_scripted

    sound = tmp_path / "sound.npz"
    datasets.save_dataset(sound, record_scripted(1, grid_size=6, seed=0))
    path = tmp_path / "human_demos.npz"
    with zipfile.ZipFile(sound) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    members["ttl.npy"] = npy_claiming((30_000_000, 10, 10), "<i2", b"\0" * 64)  # 6 GB asked for
    write_zip(path, members)
    arrays_read.clear()
    with pytest.raises(datasets.DatasetError) as refused:
        datasets.load_dataset(path)
    message = str(refused.value)
    assert str(path) in message and "6.0 GB" in message and len(message.splitlines()) == 1
    assert arrays_read == []


def test_setting_aside_never_unpacks_a_file_too_large_to_read(tmp_path: Path, arrays_read) -> None:
    from snake_mc.run.run_state import set_aside

    earlier = write_zip(tmp_path / "training_history.set-aside-20260101-000000.npz",
                        {"iteration.npy": npy_claiming((10**9,), "<f8")})
    path = write_zip(tmp_path / "training_history.npz", {"iteration.npy": npy_claiming((10**9,), "<f8", b"\1")})
    kept = set_aside(path)
    assert kept is not None and kept != earlier and kept.exists() and earlier.exists()
    assert arrays_read == []
