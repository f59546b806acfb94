"""Evaluations that run engines over data and measure what comes out (surfaces call these)."""
