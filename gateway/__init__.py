"""The process core (CLI, workers, listeners) and the LLM door."""
