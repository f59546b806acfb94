"""Batch jobs: many requests from a file, on a local process pool or on Ray, across engine endpoints."""
