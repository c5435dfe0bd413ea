"""Test-session wiring: real components come from the fixture plugins below."""

pytest_plugins = ["tests.fixtures.kafka", "tests.fixtures.postgres", "tests.fixtures.seeds"]
