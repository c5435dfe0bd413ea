"""Personal data kept out of the event log: sealed in the vault of the service that collected it.

Design (contracts/README.md, "Personal data"): the applicant's contact never enters an event. The
service that collected it (the post office at its counter, the agency at its desk) seals it in its own
``*_personal_data`` table in the transaction that records the act, and the event carries only who holds
it and the digest the tracker's public lookup needs. Erasing it deletes the sealed blob of one row.

| module | job |
| --- | --- |
| ``keys`` | the key-encryption keys (``PERSONAL_DATA_KEYS``) by id, the first one current |
| ``sealing`` | AES-256-GCM with a fresh data key per record, the data key wrapped by a KEK |
| ``index`` | keyed HMAC indexes of a phone number and an ID number (access requests) |
| ``phone_check`` | the digest of a phone's last four digits (the tracker's public lookup) |
| ``tables`` | the vault table and the append-only read audit table of one service |
| ``vault`` | store, read, erase, find, rotate |
| ``audit`` | record and list the reads of a dossier's contact on a staff API |
| ``upcast`` | a v1 event carrying plain contact turned into its v2 form |
| ``settings`` | the settings of the keys |
"""
