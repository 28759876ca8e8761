"""Database backends of the project (see opply/db/postgresql.py)."""
