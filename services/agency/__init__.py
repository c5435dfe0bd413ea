"""The agency service: what the agencies' one-stop desks report about each dossier they receive.

Officers report over HTTP; agency systems that integrate directly publish the same envelopes on
agency.intake.v1. Both paths go through one state machine (`domain`) and publish the validated events on
agency.events.v1. The service learns which dossier is addressed to which agency, and its filing time,
from the post office's events on postal.events.v1.
"""
