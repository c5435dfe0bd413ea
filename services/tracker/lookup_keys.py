"""The tracker's lookup key file: now shared with the producers (services.shared.key_files)."""

from __future__ import annotations

from services.shared.key_files import ensure_key_file

__all__ = ["ensure_key_file"]
