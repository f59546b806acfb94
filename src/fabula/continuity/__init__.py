"""Continuity: the story's state, extracted from its own text, and the contradictions in it.

`manuscript` splits a text into units and sentences, `extract` reads typed facts from each
sentence (who is where, alive or dead, holding what; objects lost or found; eye colour, age,
relations; the time of day and the date), `ledger` keeps them with their citations and the
writer's pinned facts, and `checks` finds the contradictions between them.
"""
