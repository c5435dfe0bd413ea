"""The post office's state in the shared database, and the unit of work around it."""
