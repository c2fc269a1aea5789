"""Gatehouse LLM gateway: an OpenAI-compatible proxy; build it with ``gateway.app.create_app``."""
