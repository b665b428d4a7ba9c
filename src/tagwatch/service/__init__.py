"""Use cases: ingest, the monitor loop, the alert workflow, queries, auth and audit.

The service layer is where the pure core (domain, engine, protocols, workflow) meets the
adapters (log, store, notifier); `bootstrap.py` wires them together.
"""
