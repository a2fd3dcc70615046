"""Databases of their own for tests that need a store with other settings than the session's."""

import asyncpg


async def drop_database(admin_url: str, name: str) -> None:
    """DROP DATABASE `name` if it exists, closing its connections."""
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()
