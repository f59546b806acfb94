"""Responsible generation: watermarking and its detector (more to come: originality, safety, bias)."""
