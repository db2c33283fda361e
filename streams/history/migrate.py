"""Schema migrations (Alembic, async): `rta migrate`, and the worker's start-up check."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

MIGRATIONS = Path(__file__).parent / "migrations"


class NotMigrated(RuntimeError):
    """The database is not at the schema this code needs; the text says what to run."""


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def head() -> str:
    found = ScriptDirectory.from_config(alembic_config("")).get_current_head()
    assert found is not None
    return found


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)


async def current(url: str) -> str | None:
    """The database's schema revision (None: never migrated)."""
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            exists = await conn.scalar(text("SELECT to_regclass('alembic_version')"))
            if exists is None:
                return None
            version = await conn.scalar(text("SELECT version_num FROM alembic_version"))
            return None if version is None else str(version)
    finally:
        await engine.dispose()


async def check(url: str) -> None:
    """NotMigrated unless the database is at this code's schema revision."""
    now, want = await current(url), head()
    if now != want:
        state = "has no rta schema" if now is None else f"is at schema revision {now}"
        raise NotMigrated(f"the history database {state}; this version needs {want}: run "
                          "`rta migrate` (a deploy step) first")
