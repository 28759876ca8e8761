"""The PostgreSQL backend: see base.py."""
