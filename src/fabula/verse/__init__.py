"""Verse: pronunciation, syllables, rhyme, fixed forms and validators that do not trust the generator."""
