"""The worker side of the NER tier: a presidio AnalyzerEngine with spaCy's NER component and the
rule recognizer, built once per pool process."""

from __future__ import annotations

import os
from typing import Any

from pii.ner.base import _CHUNK, MODEL, NER_TYPES, NerUnavailable
from pii.ner.rules import resolve, rule_candidates, score_model_entity
from pii.ner.words import Cand
from pii.structure import Decoded, has_unicode_escape

# --------------------------------------------------------------------------------------------
# Worker process
# --------------------------------------------------------------------------------------------


class _Worker:
    analyzer: Any = None
    nlp: Any = None
    error: str | None = None


def _quiet_tldextract() -> None:
    """presidio imports tldextract (for its e-mail recognizer, which is not loaded here); make sure
    nothing can ever reach for the public suffix list over the network: the bundled snapshot only,
    no disk cache."""
    os.environ["TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS"] = ""
    import tldextract
    import tldextract.tldextract as tx

    offline = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, fallback_to_snapshot=True)
    tx.TLD_EXTRACTOR = offline
    tldextract.extract = offline  # type: ignore[assignment]


def _build_analyzer() -> Any:
    """presidio AnalyzerEngine with spaCy NER only and our two recognizers."""
    import spacy
    from presidio_analyzer import AnalyzerEngine, LocalRecognizer, RecognizerRegistry, RecognizerResult
    from presidio_analyzer.context_aware_enhancers import ContextAwareEnhancer
    from presidio_analyzer.nlp_engine import NerModelConfiguration, NlpArtifacts, SpacyNlpEngine
    from presidio_analyzer.predefined_recognizers import SpacyRecognizer

    label_score = {"PERSON": 0.85, "ORG": 0.7, "GPE": 0.8, "LOC": 0.65, "FAC": 0.5}

    class NerOnlySpacyEngine(SpacyNlpEngine):
        """Loads only the `ner` component (its own tok2vec): no parser, tagger or lemmatizer."""

        def load(self) -> None:
            nlp = spacy.load(MODEL, exclude=["tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer"])
            nlp.max_length = _CHUNK + 1000
            self.nlp = {"en": nlp}  # type: ignore[assignment]  # presidio declares it None until load

        def _get_scores_for_entities(self, doc: Any) -> list[float]:
            return [label_score.get(ent.label_, 0.5) for ent in doc.ents]

        def _doc_to_nlp_artifact(self, doc: Any, language: str) -> Any:
            # No lemmas or keywords: nothing here uses them and they cost a lookup per token.
            ents, scores = self._get_updated_entities(self._get_entities(doc), self._get_scores_for_entities(doc))
            return NlpArtifacts(
                entities=ents,
                tokens=doc,
                tokens_indices=[],
                lemmas=[],
                nlp_engine=None,
                language=language,
                scores=scores,
            )

    class NoContext(ContextAwareEnhancer):
        """Scores come from our own rules; presidio's lemma context needs the lemmatizer we dropped."""

        def __init__(self) -> None:
            super().__init__(
                context_similarity_factor=0,
                min_score_with_context_similarity=0,
                context_prefix_count=0,
                context_suffix_count=0,
            )

        def enhance_using_context(self, text: str, raw_results: list[Any], *args: Any, **kwargs: Any) -> list[Any]:
            return raw_results

    def result(c: Cand, name: str) -> Any:
        return RecognizerResult(c[2], c[0], c[1], c[3], recognition_metadata={"recognizer_name": name})

    class FilteredSpacyRecognizer(SpacyRecognizer):
        """spaCy's entities, validated, trimmed and scored by shape and context."""

        def analyze(self, text: str, entities: list[str], nlp_artifacts: Any = None) -> list[Any]:
            out = []
            for r in super().analyze(text, entities, nlp_artifacts):
                c = score_model_entity(text, r.start, r.end, r.entity_type)
                if c:
                    out.append(result(c, "spacy"))
            return out

    class RuleRecognizer(LocalRecognizer):
        """Labelled values, table columns, street lines, legal-form companies, gazetteer places."""

        def load(self) -> None:
            pass

        def analyze(self, text: str, entities: list[str], nlp_artifacts: Any = None) -> list[Any]:
            ents = []
            if nlp_artifacts is not None:
                ents = [(e.start_char, e.end_char, e.label_) for e in nlp_artifacts.entities]
            return [result(c, "rules") for c in rule_candidates(text, ents)]

    mapping = {
        "PERSON": "PERSON",
        "PER": "PERSON",
        "ORG": "ORGANIZATION",
        "GPE": "LOCATION",
        "LOC": "LOCATION",
        "FAC": "LOCATION",
    }
    ignore = [
        "NORP",
        "DATE",
        "TIME",
        "PERCENT",
        "MONEY",
        "QUANTITY",
        "ORDINAL",
        "CARDINAL",
        "EVENT",
        "WORK_OF_ART",
        "LAW",
        "LANGUAGE",
        "PRODUCT",
    ]
    engine = NerOnlySpacyEngine(
        models=[{"lang_code": "en", "model_name": MODEL}],
        ner_model_configuration=NerModelConfiguration(
            model_to_presidio_entity_mapping=mapping, labels_to_ignore=ignore
        ),
    )
    engine.load()
    registry = RecognizerRegistry(supported_languages=["en"])
    registry.add_recognizer(FilteredSpacyRecognizer(supported_entities=sorted(NER_TYPES)))
    registry.add_recognizer(RuleRecognizer(supported_entities=sorted(NER_TYPES), name="TollgateNerRules"))
    analyzer = AnalyzerEngine(
        registry=registry, nlp_engine=engine, supported_languages=["en"], context_aware_enhancer=NoContext()
    )
    return analyzer


def _init_worker() -> None:
    """Process-pool initializer: load the model once per worker process. A failure is kept and
    reported by every task as NerUnavailable (an initializer exception would only break the pool)."""
    try:
        _quiet_tldextract()
        _Worker.analyzer = _build_analyzer()
        _Worker.nlp = _Worker.analyzer.nlp_engine.nlp["en"]
    except Exception as exc:  # pragma: no cover - only where the packages are broken
        _Worker.error = f"{type(exc).__name__}: {exc}"


def _ping() -> int:
    if _Worker.error:
        raise NerUnavailable(_Worker.error)
    return os.getpid()


def _chunks(text: str) -> list[tuple[int, str]]:
    """Split a huge text at line breaks into docs of at most ~_CHUNK characters."""
    if len(text) <= _CHUNK:
        return [(0, text)]
    out = []
    s = 0
    while s < len(text):
        e = min(len(text), s + _CHUNK)
        if e < len(text):
            nl = text.rfind("\n", s + _CHUNK // 2, e)
            e = nl + 1 if nl > 0 else e
        out.append((s, text[s:e]))
        s = e
    return out


def analyze_texts(texts: list[str], types: frozenset[str]) -> list[list[tuple[int, int, str]]]:
    """Detect in the current process (the pool task; also used by the benchmark)."""
    if _Worker.error:
        raise NerUnavailable(_Worker.error)
    if _Worker.analyzer is None:
        _init_worker()
        if _Worker.error:
            raise NerUnavailable(_Worker.error)
    analyzer, nlp = _Worker.analyzer, _Worker.nlp
    # JSON `\uXXXX` escapes (`Jos\u00e9`, `\u5f20\u4f1f`) are analysed decoded, spans mapped back.
    decoded = [Decoded(t) if has_unicode_escape(t) else None for t in texts]
    texts = [d.text if d else t for d, t in zip(decoded, texts, strict=True)]
    pieces = [(ti, off, chunk) for ti, t in enumerate(texts) for off, chunk in _chunks(t)]
    found: list[list[Cand]] = [[] for _ in texts]
    entities = sorted(NER_TYPES)
    # memory_zone frees the strings each batch adds to the vocab: a long-lived worker would
    # otherwise grow with every random token (keys, hashes) it ever saw.
    with nlp.memory_zone():
        # nlp.pipe directly rather than the engine's process_batch, which rebuilds each doc.text
        # token by token (~10% of the time) only to hand back the text we already have.
        docs = nlp.pipe([p[2] for p in pieces], batch_size=32)
        for (ti, off, chunk), doc in zip(pieces, docs, strict=True):
            artifacts = analyzer.nlp_engine._doc_to_nlp_artifact(doc, "en")
            for r in analyzer.analyze(chunk, "en", entities=entities, nlp_artifacts=artifacts, score_threshold=0.01):
                found[ti].append((r.start + off, r.end + off, r.entity_type, r.score))
    return [
        [(*d.span(s, e), t) for s, e, t in resolve(c, types)] if d else resolve(c, types)
        for c, d in zip(found, decoded, strict=True)
    ]


def _detect_batch(texts: list[str], types: list[str]) -> list[list[tuple[int, int, str]]]:
    return analyze_texts(texts, frozenset(types))
