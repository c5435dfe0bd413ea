"""Delivery receipts: each provider's callback authenticated as it documents, parsed into
``ports.Receipt`` and handed to the service (router.py)."""
