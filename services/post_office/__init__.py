"""The post office service: clerks and couriers record every physical handover of a dossier or a result.

An HTTP API (FastAPI) records intake, handovers to the agency, result pickups, delivery attempts,
returns, transit scans, losses and damage, and offline scanner batches; each act becomes a postal event
on Kafka (postal.events.v1), acknowledged by the broker before the API answers 2xx.
"""
