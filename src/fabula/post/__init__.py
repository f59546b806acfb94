"""Post-processing: clean raw engine text, check it, score it and choose among candidates.

Nothing is dropped silently: every change a cleaner makes and every check's outcome is a verdict
stored with the candidate.
"""
