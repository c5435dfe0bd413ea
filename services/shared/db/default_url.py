"""The embedded default database of the local run, apart from the engine so that reading the settings
does not load SQLAlchemy (a supervising process that serves nothing never needs it)."""

DEFAULT_URL = "sqlite+aiosqlite:///.work/dossier.db"
