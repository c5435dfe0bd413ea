"""Cross-cutting code used by several services: calendar, catalog, database and Kafka plumbing."""
