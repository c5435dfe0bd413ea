"""Channel adapters: one module per provider, each implementing ``ports.Sender``."""
