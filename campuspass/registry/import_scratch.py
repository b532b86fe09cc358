"""The import's per-file maps, kept on disk instead of in memory (issue 13).

A registry import needs three facts about the whole file while it applies it chunk by chunk:
- the final values of every staff number ("the later row wins", with a warning for each row that
  differs from the one before it);
- for every key a later chunk can reach a record by (staff number, plate, year + pass number), the
  last row that uses it, so that a record no later row can reach is dropped from memory (a staff
  number's last row is the row of its final values; plates and pass numbers have their own table,
  which also says whether more than one row uses the key);
- the first accepted row of each (year, pass number) and (year, plate) that more than one row uses,
  to reject a later duplicate with the row it repeats (a key only one row uses cannot repeat
  anything: it is neither looked up nor written).

Held in Python dicts these grew by about 1.2 KB per row (1.3 GB for 1,000,000 rows). Here they live in
a private SQLite file in the temporary directory (the standard library's sqlite3; nothing of the
project's own database is touched, so the dry run still writes nothing anywhere that matters),
with a page cache of a few megabytes: memory no longer grows with the file, on PostgreSQL and SQLite
alike. Each chunk asks for its keys in one statement and writes its new facts in one executemany,
all in one transaction that is never committed (the file is thrown away).
"""

from __future__ import annotations

import json
import os
import sqlite3
import tempfile
from collections.abc import Iterable

CACHE_KIB = 16 * 1024  # SQLite's page cache for the scratch file: bounded, whatever the file's size

_SCHEMA = """
CREATE TABLE staff (staff_no TEXT PRIMARY KEY, row INTEGER, name TEXT, mobile TEXT, status TEXT,
                    department TEXT) WITHOUT ROWID;
CREATE TABLE last_use (key TEXT PRIMARY KEY, row INTEGER, repeated INTEGER) WITHOUT ROWID;
CREATE TABLE first_accepted (key TEXT PRIMARY KEY, row INTEGER) WITHOUT ROWID;
"""


def plate_key(plate: str) -> str:
    return "v" + plate


def pass_key(year: int, number: str) -> str:
    return f"p{year}:{number}"


class ImportScratch:
    """A scratch SQLite file for one import; a context manager that deletes it on exit."""

    def __enter__(self) -> ImportScratch:
        handle, self.path = tempfile.mkstemp(prefix="campuspass-import-", suffix=".sqlite3")
        os.close(handle)
        self.db = sqlite3.connect(self.path, isolation_level=None)
        self.db.executescript(
            "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA temp_store = FILE;"
            f"PRAGMA cache_size = -{CACHE_KIB}; PRAGMA locking_mode = EXCLUSIVE;" + _SCHEMA
        )
        # One transaction for the file's whole life: in autocommit mode every row of an executemany
        # was its own transaction (pages written out and the file's header read again each time),
        # which cost more CPU than the rest of the scratch work together. Nothing is ever committed
        # or rolled back: the file is deleted at the end.
        self.db.execute("BEGIN")
        return self

    def __exit__(self, *exc) -> None:
        self.db.close()
        os.unlink(self.path)

    def _rows(self, sql: str, keys: Iterable[str]) -> list[tuple]:
        # One JSON array parameter: the same short statement whatever the number of keys.
        return self.db.execute(sql, [json.dumps(list(keys), ensure_ascii=False)]).fetchall()

    # --- final staff values (pass 1 writes, pass 2 reads) ---------------------------------------

    def staff_finals(self, staff_nos: Iterable[str]) -> dict[str, tuple]:
        """staff_no -> (row, name, mobile, status, department) as stored so far."""
        return {
            staff_no: tuple(values)
            for staff_no, *values in self._rows(
                "SELECT staff_no, row, name, mobile, status, department FROM staff"
                " WHERE staff_no IN (SELECT value FROM json_each(?))",
                staff_nos,
            )
        }

    def store_staff_finals(self, finals: dict[str, tuple]) -> None:
        self.db.executemany(
            "INSERT OR REPLACE INTO staff VALUES (?, ?, ?, ?, ?, ?)",
            ((staff_no, *final) for staff_no, final in finals.items()),
        )

    # --- last row using a plate or pass number (pass 1 writes, pass 2 reads) -------------------

    def store_last_use(self, last: dict[str, int], repeated: Iterable[str] = ()) -> None:
        """Rows arrive in order, so a later chunk's row replaces an earlier one's. A key stored again,
        or in `repeated` (used by more than one row of the chunk), is marked as repeated."""
        repeated = set(repeated)
        self.db.executemany(
            "INSERT INTO last_use VALUES (?, ?, ?)"
            " ON CONFLICT (key) DO UPDATE SET row = excluded.row, repeated = 1",
            ((key, row, key in repeated) for key, row in last.items()),
        )

    def last_uses(self, keys: Iterable[str]) -> dict[str, tuple[int, bool]]:
        """key -> (the last row using it, whether more than one row uses it), for the keys stored."""
        return {
            key: (row, bool(repeated))
            for key, row, repeated in self._rows(
                "SELECT key, row, repeated FROM last_use WHERE key IN (SELECT value FROM json_each(?))", keys
            )
        }

    def used_after(self, keys: Iterable[str], row: int) -> set[str]:
        """The keys that a row after `row` still uses."""
        return {
            key
            for (key,) in self.db.execute(
                "SELECT key FROM last_use WHERE key IN (SELECT value FROM json_each(?)) AND row > ?",
                [json.dumps(list(keys), ensure_ascii=False), row],
            )
        }

    # --- first accepted row of a pass number or a plate, per year (pass 2) ----------------------

    def first_accepted(self, keys: Iterable[str]) -> dict[str, int]:
        keys = list(keys)
        if not keys:
            return {}
        return dict(
            self._rows(
                "SELECT key, row FROM first_accepted WHERE key IN (SELECT value FROM json_each(?))", keys
            )
        )

    def store_first_accepted(self, accepted: Iterable[tuple[str, int]]) -> None:
        """Only the first row stored for a key stays."""
        self.db.executemany("INSERT OR IGNORE INTO first_accepted VALUES (?, ?)", accepted)
