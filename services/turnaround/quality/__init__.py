"""The ISO 9001:2015 quality loop on top of the clocks: objectives and their measurement (cl. 9.1),
nonconformities (cl. 10.2) and the periodic reports agencies and provinces file.

A module of the turnaround service rather than a service of its own, because:
- it is measured on the clocks turnaround stores, classified by the one definition of "on time"
  (services/shared/timeliness.py) that turnaround already applies when a clock finishes — a second
  service would have to derive the clocks again from the events (a second definition) or need new events;
- a nonconformity is opened in the same transaction that applies the breaching event, so turnaround's
  inbox makes it exactly once across replays and replicas, like its clock alerts.
Its tables are in services/turnaround/adapters/tables.py (migration ta_0003).
"""
