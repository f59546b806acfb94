"""Melody for lyrics: one note per syllable, stress on strong beats, exported as MIDI and ABC."""
