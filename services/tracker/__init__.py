"""The tracker: each dossier's stage, custody and history, folded from every postal and agency event.

It consumes postal.events.v1 and agency.events.v1, keeps its projection in the database, answers public
and staff lookups, and publishes tracker.stage-changed.v1 through a transactional outbox.
"""
