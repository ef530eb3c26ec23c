"""The SQLite state database: schema migrations, run journals, sync bases, digest cache."""
