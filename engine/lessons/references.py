"""The reference documents the lessons are based on: id -> title, for lesson cards.

The documents themselves (the project's starting reading, ../shared/reference/) are not part
of the project; only their titles are, so a card can say "based on reference 000: <title>".
Reference 003 is a question thread without a title; its entry describes the question.
"""

from __future__ import annotations

REFERENCES: dict[str, str] = {
    "000": "Why Perplexity Rises at the Start of RNN Training",
    "001": "Language Modeling, Part 3: Vanilla RNNs",
    "002": "Why is my PyTorch RNN failing to train?",
    "003": "(untitled question thread) Periodic loss and HR@10 fluctuations of a GRU next-item model "
           "evaluated four times per epoch",
    "004": "Why did the recurrent neural network fail to learn with a learning rate reduction strategy?",
}


def reference_ids(reference: str) -> list[str]:
    """'000, 002' -> ['000', '002']."""
    return [r.strip() for r in reference.split(",") if r.strip()]


def based_on(reference: str) -> str:
    """The card line: 'based on reference 000: <title>' (several references joined by '; ')."""
    ids = reference_ids(reference)
    parts = [f"{r}: {REFERENCES[r]}" for r in ids]
    return ("based on reference " if len(ids) == 1 else "based on references ") + "; ".join(parts)
