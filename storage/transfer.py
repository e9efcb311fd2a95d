"""Copy a deployment's data from one database to another (``momento migrate-storage``), and prove it.

Both ends are opened (and so migrated) to the same schema version first. Tables are copied parents before
children, each in primary-key order, in one transaction on the target; answers and analyses point at each
other, so answers arrive without their current analysis and get it once the analyses are in. Afterwards
every table is read back from both ends: the row count and a SHA-256 over its rows in key order must match,
so what the target holds is what the source held, value for value. A target that already holds rows is
refused unless *force*, which empties it first.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from storage.db import Database

# Parents before children (foreign keys); tables a later migration adds go after these, in name order.
COPY_ORDER = (
    "customers",
    "touchpoints",
    "touchpoint_events",
    "surveys",
    "answers",
    "analyses",
    "alerts",
    "staff",
    "audit_log",
    "app_state",
    "inbox",
    "outbox",
    "webhook_outbox",
    "leases",
)
# Copied without this column at first, filled in after the table it references (a cycle of references).
_DEFERRED = {"answers": "current_analysis_id"}
BATCH = 5000


class TransferError(Exception):
    """The copy cannot start or did not verify; one line."""


@dataclass(frozen=True, slots=True)
class TableCheck:
    table: str
    rows: int
    checksum: str


async def tables(db: Database) -> list[str]:
    """The data tables of *db* in copy order (the schema's bookkeeping left out)."""
    if db.engine == "postgresql":
        sql = (
            "SELECT table_name AS name FROM information_schema.tables "
            "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' "
            "AND table_name != 'momento_schema'"
        )
    else:
        sql = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    found = {str(row["name"]) for row in await db.fetch_all(sql)}
    known = [name for name in COPY_ORDER if name in found]
    return known + sorted(found - set(COPY_ORDER))


async def _columns(db: Database, table: str) -> list[str]:
    if db.engine == "postgresql":
        rows = await db.fetch_all(
            "SELECT column_name AS name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position",
            (table,),
        )
    else:
        rows = await db.fetch_all(f'SELECT name FROM pragma_table_info("{table}") ORDER BY cid')
    return [str(row["name"]) for row in rows]


async def _key(db: Database, table: str, columns: list[str]) -> str:
    """The ORDER BY that lists a table's rows the same way on both engines."""
    if "id" in columns:
        return "id"
    keys = {"staff": "telegram_user_id", "app_state": "key", "inbox": "update_id", "leases": "name"}
    first = keys.get(table)
    return first or ", ".join(columns)


async def row_counts(db: Database) -> dict[str, int]:
    counts = {}
    for table in await tables(db):
        row = await db.fetch_one(f'SELECT COUNT(*) AS n FROM "{table}"')
        counts[table] = int(row["n"]) if row else 0
    return counts


def _canonical(value: Any) -> Any:
    # A whole number in a REAL column reads back as 3.0 from either engine; repr keeps every float exact.
    return repr(value) if isinstance(value, float) else value


async def check_table(db: Database, table: str, columns: list[str] | None = None) -> TableCheck:
    """Row count and SHA-256 over the rows in key order, each row as canonical JSON of its values."""
    columns = columns or await _columns(db, table)
    order = await _key(db, table, columns)
    digest = hashlib.sha256()
    rows = 0
    listed = ", ".join(f'"{c}"' for c in columns)
    async for batch in db.iterate_batches(f'SELECT {listed} FROM "{table}" ORDER BY {order}', batch=BATCH):
        for row in batch:
            digest.update(json.dumps([_canonical(v) for v in tuple(row)], ensure_ascii=False).encode())
            digest.update(b"\n")
            rows += 1
    return TableCheck(table, rows, digest.hexdigest())


async def copy_database(
    source: Database,
    target: Database,
    *,
    force: bool = False,
    progress: Callable[[str, int], None] | None = None,
) -> list[TableCheck]:
    """Copy every table of *source* into *target* and verify it; the checks of the verified tables."""
    if await source.schema_version() != await target.schema_version():
        raise TransferError("the two databases are at different schema versions; upgrade Momento first")
    names = await tables(source)
    missing = sorted(set(names) - set(await tables(target)))
    if missing:
        raise TransferError(f"the target has no table {missing[0]}")
    occupied = {table: n for table, n in (await row_counts(target)).items() if n}
    if occupied and not force:
        listing = ", ".join(f"{table} ({n})" for table, n in sorted(occupied.items()))
        raise TransferError(f"the target is not empty: {listing}; pass --force to replace what it holds")
    columns = {table: await _columns(source, table) for table in names}
    async with target.transaction() as conn:
        if occupied:
            for table, column in _DEFERRED.items():
                await conn.execute(f'UPDATE "{table}" SET "{column}" = NULL')
            await target.empty_tables(list(reversed(names)))
        for table in names:
            deferred = _DEFERRED.get(table)
            listed = [c for c in columns[table] if c != deferred]
            order = await _key(source, table, columns[table])
            sql = f'SELECT {", ".join(chr(34) + c + chr(34) for c in listed)} FROM "{table}" ORDER BY {order}'
            copied = 0
            async for batch in source.iterate_batches(sql, batch=BATCH):
                await target.insert_rows(table, listed, [tuple(row) for row in batch])
                copied += len(batch)
                if progress is not None:
                    progress(table, copied)
        for table, column in _DEFERRED.items():
            if table not in names:
                continue
            sql = f'SELECT id, "{column}" FROM "{table}" WHERE "{column}" IS NOT NULL ORDER BY id'
            async for batch in source.iterate_batches(sql, batch=BATCH):
                await target.set_column(table, column, [(row[0], row[1]) for row in batch])
        await target.after_bulk_insert(names)
    checks = []
    for table in names:
        copied_from = await check_table(source, table, columns[table])
        copied_to = await check_table(target, table, columns[table])
        if copied_from != copied_to:
            raise TransferError(
                f"{table} did not verify: {copied_from.rows} rows in the source, {copied_to.rows} in the "
                f"target, checksums {copied_from.checksum[:12]} / {copied_to.checksum[:12]}"
            )
        checks.append(copied_to)
    return checks
