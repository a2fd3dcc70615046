"""Read queries: each takes an asyncpg connection and parsed parameters, returns plain rows."""
