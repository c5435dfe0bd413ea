"""What crosses a process boundary: the event envelope, every event, the topic registry and value types."""
