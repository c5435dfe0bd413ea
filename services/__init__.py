"""Deployable services. They never import each other; they talk through contracts/ and Kafka."""
