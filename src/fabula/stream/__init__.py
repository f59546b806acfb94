"""The virtual streamer: persona cards, show scripts, live chat with memory, speech."""
