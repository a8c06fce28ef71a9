"""NER tier of PII detection: PERSON, ORGANIZATION, LOCATION through presidio-analyzer + spaCy.

The package: `base` (types, model, floors), `words` (vocabularies), `rules` (pure rules and
scoring), `worker` (the pool process), `engine` (the parent side). Two halves:

- The parent side (`NerEngine`) never imports spaCy or presidio. It runs detection in a process
  pool (forkserver/spawn, so the forked uvloop workers of tollgate never fork a loaded model or a
  running loop), with a time budget; a pool that overruns or crashes is killed and rebuilt.
- The worker side (`_init_worker`, `_detect_batch`) builds a presidio `AnalyzerEngine` that holds
  only two recognizers: a filtered `SpacyRecognizer` (spaCy's small English model with every
  component but `ner` excluded) and a rule recognizer for what a small model misses in agent
  traffic: values under labels (`"employer": "…"`, `city=…`, CSV/Markdown/SQL columns), street
  lines, company names with a legal-form suffix, and a gazetteer of countries and cities.
  Presidio's own pattern recognizers are not loaded: tollgate's pattern tier covers those types.

The annotation policy (shared/pii/README.md): PERSON without titles; ORGANIZATION only companies
that identify a party, never technology vendors or products named as such; LOCATION is cities,
countries and street lines. Code identifiers, JSON keys, headers and acronyms are not entities.
"""

from __future__ import annotations

import importlib.util

from pii.ner.base import _PACKAGES, MIN_SCORE, MODEL, NER_TYPES, NerUnavailable
from pii.ner.engine import NerEngine
from pii.ner.rules import resolve, rule_candidates, score_model_entity
from pii.ner.worker import _init_worker as _init_worker
from pii.ner.worker import _Worker as _Worker
from pii.ner.worker import analyze_texts

__all__ = [
    "MIN_SCORE",
    "MODEL",
    "NER_TYPES",
    "NerEngine",
    "NerUnavailable",
    "analyze_texts",
    "ner_available",
    "resolve",
    "rule_candidates",
    "score_model_entity",
]

_available: bool | None = None


def ner_available() -> bool:
    """Whether the packages and the model are installed (an import-free check, cached)."""
    global _available
    if _available is None:
        try:
            _available = all(importlib.util.find_spec(p) is not None for p in _PACKAGES)
        except (ImportError, ValueError):
            _available = False
    return _available
