"""Database plumbing shared by the services: engine factory, schema and Alembic migrations.

One database, one migration history for the whole project: each service owns its tables (named after
the service) and never reads another service's tables. PostgreSQL in production and tests; SQLite is
the embedded default for the local run.
"""
