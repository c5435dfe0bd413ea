"""The local run's stand-ins for the notifications service's providers: an SMTP server, eSMS and Zalo
ZNS, each keeping every message it accepts as a file under the work directory (.work/mail/*.eml,
.work/sms/*.json, .work/zalo/*.json) instead of sending it; the eSMS and Zalo ones then report each
message delivered, as the real providers do, so the local run shows receipts too.

`python -m services.stack.sinks` runs them in one process (the local run's supervisor starts it)."""
