"""The `fabula` command line: a thin layer over the library (no generation logic here)."""
