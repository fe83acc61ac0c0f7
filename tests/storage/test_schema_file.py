"""The SQLite schema-change file: every change another process publishes is seen by the next unit of work,
whether the file is fresh (read each time) or settled (its content reused while its signature holds)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from backend.storage.schema_file import SETTLED_NS, SchemaFile


def _age(path: Path, seconds: float) -> None:
    past = time.time_ns() - int(seconds * 1e9)
    os.utime(path, ns=(past, past))


def test_a_missing_file_then_each_replacement_is_seen_at_once(tmp_path: Path) -> None:
    here, there = SchemaFile(tmp_path / "db-schema"), SchemaFile(tmp_path / "db-schema")  # two processes
    assert here.stamp() is None
    for n in range(50):  # same size every time, faster than any mtime tick
        there.replace(f"change {n:04d}")
        assert here.stamp() == f"change {n:04d}".encode()


def test_a_settled_file_is_reused_and_a_later_replacement_still_seen(tmp_path: Path) -> None:
    here, there = SchemaFile(tmp_path / "db-schema"), SchemaFile(tmp_path / "db-schema")
    there.replace("change 0001")
    _age(there.path, SETTLED_NS / 1e9 + 5)
    assert here.stamp() == b"change 0001"
    assert here.stamp() == b"change 0001"  # the cached content, the file unchanged
    there.replace("change 0002")  # same size; the inode may be the freed one
    assert here.stamp() == b"change 0002"
    os.unlink(there.path)
    assert here.stamp() is None


def test_a_fresh_file_rewritten_in_place_with_the_same_signature_is_read_again(tmp_path: Path) -> None:
    path = tmp_path / "db-schema"
    here = SchemaFile(path)
    path.write_bytes(b"change 0001")
    mtime = path.stat().st_mtime_ns
    assert here.stamp() == b"change 0001"
    path.write_bytes(b"change 0002")  # same inode and size, and the mtime put back: only the content differs
    os.utime(path, ns=(mtime, mtime))
    assert here.stamp() == b"change 0002"  # within the window nothing is trusted but the content
