"""The citizen's public tracking page: a server-rendered form over the public lookup (``GET /tra-cuu``, the
answer to ``POST /tra-cuu``), its timeline, and its Vietnamese wording as data (``wording.yaml``)."""
