"""Merging `extends` chains with memoization gives what merging each chain alone gives."""

from __future__ import annotations

from compiler.pipeline.load import load_bytes
from compiler.pipeline.merge import Chains, Merger, merge_chain

# A tree: base <- mid <- {a, b}; mid2 (abstract, one child) between mid and c; solo alone.
PROFILES = {
    "base": "abstract: true\nplatform: {region: r1, project: p}\nservices: {s: {port: 1}}\n",
    "mid": "abstract: true\nextends: base\nplatform: {region: r2}\nservices: {t: {port: 2}}\n",
    "a": "extends: mid\nservices: {s: {port: 3, image: x}}\n",
    "b": "extends: mid\nplatform: {project: q}\nservices: [1]\n",
    "mid2": "abstract: true\nextends: mid\nservices: {u: {port: 4}}\n",
    "c": "extends: mid2\nservices: {s: {dependencies: {d: {timeouts: {t: 1s}}}}}\n",
    "solo": "services: {z: {port: 5}}\n",
}


def test_memoized_merges_equal_merging_each_chain() -> None:
    documents = {
        name: load_bytes(text.encode(), f"profiles/{name}.yaml") for name, text in PROFILES.items()
    }
    chains = Chains(documents)
    assert chains.errors == {} and chains.whole == set(documents)
    merger = Merger(documents, chains)
    for _ in range(2):  # the second round comes from the memo
        for name in ("c", "a", "b", "solo", "mid", "base", "mid2"):
            alone = merge_chain(chains.chain(name), documents)
            memoized = merger.merged(name)
            assert memoized == alone
            assert memoized.value_marks == alone.value_marks
            assert memoized.key_marks == alone.key_marks
    assert chains.chain("c") == ("c", "mid2", "mid", "base")
    assert merger.merged("a").data["platform"] == {"region": "r2", "project": "p"}
    assert merger.merged("b").data["services"] == [1]
