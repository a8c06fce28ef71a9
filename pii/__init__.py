"""PII detection, masking and streaming unmasking. Not built yet: the LLM door sends prompts
unmasked until the PII issue lands, and says so in its README.
"""

__all__: list[str] = []
