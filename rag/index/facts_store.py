"""An index's facts (`ingest.facts`), stored in its generation as SQLite: written with the
chunks and vectors, so a failed build leaves the previous facts as they were, and read by
document, line item or period without loading the chunks."""
from __future__ import annotations

import sqlite3
from dataclasses import fields
from pathlib import Path

from rag.errors import UserError
from rag.ingest.facts import Fact

FACTS_FILE = "facts.sqlite"
_COLUMNS = [f.name for f in fields(Fact)]
_TYPES = {"page": "INTEGER", "months": "INTEGER", "value": "REAL", "scale": "REAL"}


def write_facts(generation: Path, facts: list[Fact]) -> None:
    """Write the facts file of a generation being staged (the caller fsyncs and renames it)."""
    with sqlite3.connect(generation / FACTS_FILE) as db:
        columns = ", ".join(f"{c} {_TYPES.get(c, 'TEXT')}" for c in _COLUMNS)
        db.execute(f"CREATE TABLE facts ({columns})")
        db.executemany(f"INSERT INTO facts VALUES ({', '.join('?' * len(_COLUMNS))})",
                       [tuple(getattr(f, c) for c in _COLUMNS) for f in facts])
        db.execute("CREATE INDEX facts_by_item ON facts (source, item)")
    db.close()


def read_facts(generation: Path, source: str | None = None, item: str | None = None) -> list[Fact]:
    """The facts of a generation, of one document (its path as indexed) and line item if given."""
    path = generation / FACTS_FILE
    if not path.is_file():
        raise UserError(f"the index at {generation.parent} was built before facts were read; rebuild it with rag index")
    where, args = [], []
    for column, value in (("source", source), ("item", item)):
        if value is not None:
            where.append(f"{column} = ?")
            args.append(value)
    query = f"SELECT {', '.join(_COLUMNS)} FROM facts" + (f" WHERE {' AND '.join(where)}" if where else "") + " ORDER BY rowid"
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return [Fact(*row) for row in db.execute(query, args)]
        finally:
            db.close()
    except (sqlite3.Error, TypeError) as exc:  # a damaged file, or one of another shape: one line, never a traceback
        raise UserError(f"the facts of the index at {generation.parent} are damaged ({exc}); rebuild it with "
                        f"rag index") from None
