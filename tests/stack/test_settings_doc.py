"""deploy/README.md lists every setting of every service, generated from the settings classes."""

from __future__ import annotations

from services.stack import settings_doc


def test_the_settings_tables_of_deploy_readme_are_current() -> None:
    current = settings_doc.README.read_text()

    assert settings_doc.render(current) == current, "run: .venv/bin/python -m services.stack.settings_doc"


def test_every_setting_says_what_it_means() -> None:
    for _, settings in settings_doc.SECTIONS:
        for field in settings_doc.own_fields(settings):
            assert len(settings_doc.describe(settings, field)) > 10, f"{settings.__name__}.{field}"
