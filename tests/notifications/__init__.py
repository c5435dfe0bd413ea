"""The notifications service's tests: providers, receipts, fallback."""
