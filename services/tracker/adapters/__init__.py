"""The tracker's adapters: its tables, the repository that reads and writes them, the outbox relay."""
