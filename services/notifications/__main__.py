"""`python -m services.notifications`: run the notifications service (/health, /ready, /metrics on
NOTIFICATIONS_HTTP_PORT, 8005)."""

from __future__ import annotations

from services.notifications.app import create_app
from services.notifications.settings import NotificationsSettings
from services.shared.http_server import serve
from services.shared.logs import configure


def main() -> None:
    settings = NotificationsSettings()
    configure(settings.log_level)
    serve(create_app(settings), settings, host=settings.http_host, port=settings.http_port)


if __name__ == "__main__":
    main()
