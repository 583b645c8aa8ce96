"""Votes of a study in an embedded SQLite database (safe for concurrent respondents).

Tables
    ``meta(key, value)``: the two folders and their labels, fixed when the study is created,
    and the secret respondent ids are signed with (:mod:`.respondents`).
    ``shown(respondent, question, left_side, shown_at)``: which result ('a' or 'b') was
    shown on the left to this respondent; drawn once, so a reload shows the same order.
    ``votes(respondent, question, choice, left_side, created_at)``: one answer per
    respondent and question; ``choice`` is 'a' or 'b' (resolved from the clicked side).
Timestamps are UTC ISO 8601. Every call opens its own connection (WAL journal, busy
timeout), so requests served on different threads never share one.
"""

from __future__ import annotations

import secrets
import sqlite3
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

from ...base.errors import AtelierError, UsageError

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS shown (
    respondent TEXT NOT NULL, question TEXT NOT NULL,
    left_side TEXT NOT NULL CHECK (left_side IN ('a', 'b')), shown_at TEXT NOT NULL,
    PRIMARY KEY (respondent, question));
CREATE TABLE IF NOT EXISTS votes (
    id INTEGER PRIMARY KEY, respondent TEXT NOT NULL, question TEXT NOT NULL,
    choice TEXT NOT NULL CHECK (choice IN ('a', 'b')), left_side TEXT NOT NULL, created_at TEXT NOT NULL,
    UNIQUE (respondent, question));
"""


class AlreadyVoted(AtelierError):
    """This respondent has already answered this question."""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class VoteStore:
    """The study database at ``path`` (created if missing)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        if self.path.is_dir():
            raise UsageError(f"--db is a folder, expected a database file: {self.path}")
        if not self.path.parent.is_dir():
            raise UsageError(f"folder of --db does not exist: {self.path.parent}")
        try:
            with closing(self._connect()) as db, db:
                db.execute("PRAGMA journal_mode=WAL")
                db.executescript(SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise UsageError(f"{self.path} is not a study database: {exc}") from None

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=30)

    def meta(self) -> dict[str, str]:
        with closing(self._connect()) as db:
            return dict(db.execute("SELECT key, value FROM meta").fetchall())

    def secret(self) -> bytes:
        """The key respondent ids are signed with (made once, kept in ``meta``)."""
        with closing(self._connect()) as db, db:
            db.execute("INSERT OR IGNORE INTO meta VALUES ('secret', ?)", (secrets.token_hex(32),))
            return bytes.fromhex(db.execute("SELECT value FROM meta WHERE key = 'secret'").fetchone()[0])

    def bind(self, values: dict[str, str]) -> None:
        """Record the study's folders/labels; refuse a database made for other folders."""
        old = self.meta()
        clash = [k for k in ("a", "b") if k in old and old[k] != values[k]]
        if clash:
            raise UsageError(f"{self.path} belongs to a study of other folders (a={old.get('a')}, b={old.get('b')}); "
                             "use another --db")
        with closing(self._connect()) as db, db:
            db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", sorted(values.items()))

    def left_side(self, respondent: str, question: str) -> str:
        """The side ('a'/'b') shown on the left for this respondent and question (drawn once)."""
        with closing(self._connect()) as db, db:
            db.execute("INSERT OR IGNORE INTO shown VALUES (?, ?, ?, ?)",
                       (respondent, question, secrets.choice("ab"), _now()))
            return db.execute("SELECT left_side FROM shown WHERE respondent = ? AND question = ?",
                              (respondent, question)).fetchone()[0]

    def shown_left(self, respondent: str, question: str) -> str | None:
        with closing(self._connect()) as db:
            row = db.execute("SELECT left_side FROM shown WHERE respondent = ? AND question = ?",
                             (respondent, question)).fetchone()
        return row[0] if row else None

    def vote(self, respondent: str, question: str, clicked: str) -> str:
        """Store the answer ``clicked`` ('left'/'right'); return the chosen side ('a'/'b')."""
        if clicked not in ("left", "right"):
            raise UsageError("choice must be 'left' or 'right'")
        left = self.shown_left(respondent, question)
        if left is None:
            raise UsageError("this question was not shown to this respondent")
        choice = left if clicked == "left" else ("b" if left == "a" else "a")
        try:
            with closing(self._connect()) as db, db:
                db.execute("INSERT INTO votes (respondent, question, choice, left_side, created_at) "
                           "VALUES (?, ?, ?, ?, ?)", (respondent, question, choice, left, _now()))
        except sqlite3.IntegrityError:
            raise AlreadyVoted("already answered") from None
        return choice

    def answered(self, respondent: str) -> set[str]:
        with closing(self._connect()) as db:
            return {r[0] for r in db.execute("SELECT question FROM votes WHERE respondent = ?", (respondent,))}

    def votes(self) -> list[tuple[str, str, str, str]]:
        """All votes as (respondent, question, choice, created_at), oldest first."""
        with closing(self._connect()) as db:
            return db.execute("SELECT respondent, question, choice, created_at FROM votes ORDER BY id").fetchall()
