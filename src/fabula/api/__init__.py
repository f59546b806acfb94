"""The HTTP surface: an app factory, the OpenAI-compatible /v1 API, errors as OpenAI-shaped JSON."""
