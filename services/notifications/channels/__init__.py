"""One adapter per provider, each implementing services.notifications.ports.Sender."""
