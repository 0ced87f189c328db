"""Atomic writes: whole files or nothing, ordinary permissions, earlier file kept on failure."""

import os

import pytest

from finrep.atomic import atomic_path, write_text_atomic


def test_written_file_gets_umask_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        path = write_text_atomic(tmp_path / "a.txt", "hello")
    finally:
        os.umask(old)
    assert path.read_text() == "hello"
    assert path.stat().st_mode & 0o777 == 0o644


def test_failure_keeps_the_earlier_file_and_leaves_no_temp(tmp_path):
    dest = tmp_path / "pack.pdf"
    dest.write_text("good")
    with pytest.raises(RuntimeError), atomic_path(dest) as tmp:
        tmp.write_text("half")
        raise RuntimeError("renderer crashed")
    assert dest.read_text() == "good"
    assert [p.name for p in tmp_path.iterdir()] == ["pack.pdf"]
