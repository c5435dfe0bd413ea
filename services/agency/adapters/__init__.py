"""The agency service's adapters: its table and the repository over it."""
