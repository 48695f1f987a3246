"""Persistence: SQLAlchemy Core tables, migrations and one repository module per aggregate.

This package is the only place that writes SQL. Every repository function that reads or changes
tenant data takes the ``account_id`` first, so no adapter can forget whose data it touches.
Times are stored as UTC UNIX milliseconds (integers), identical on SQLite and PostgreSQL.
"""
