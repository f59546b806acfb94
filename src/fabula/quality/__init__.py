"""Metrics of generated text; no engine imports here."""
