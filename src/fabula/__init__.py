"""fabula: LLM-driven creative writing with measured controls.

Importing this package is cheap on purpose: engines (torch, transformers, llama.cpp) are
imported only inside the backend that needs them, so the CLI starts fast.
"""

__version__ = "0.1.0"
