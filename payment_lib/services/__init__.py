"""Use cases: plain functions taking their collaborators (unit of work, gateway, clock)."""
