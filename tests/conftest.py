from __future__ import annotations

import random

import pytest

WORDS = [
    "time",
    "year",
    "people",
    "way",
    "day",
    "man",
    "thing",
    "woman",
    "life",
    "child",
    "world",
    "school",
    "state",
    "family",
    "student",
    "group",
    "country",
    "problem",
    "hand",
    "part",
    "place",
    "case",
    "week",
    "company",
    "system",
    "program",
    "question",
    "work",
    "government",
    "number",
    "night",
    "point",
    "home",
    "water",
    "room",
    "mother",
    "area",
    "money",
    "story",
    "fact",
    "month",
    "lot",
    "right",
    "study",
    "book",
    "eye",
    "job",
    "word",
    "business",
    "issue",
    "side",
    "kind",
    "head",
    "house",
    "service",
    "friend",
    "father",
    "power",
    "hour",
    "game",
    "line",
]


def random_doc(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) + str(rng.randrange(50)) for _ in range(n))


def edit(rng: random.Random, text: str, k: int) -> str:
    """Replaces k random words."""
    words = text.split()
    for _ in range(k):
        words[rng.randrange(len(words))] = "edited" + str(rng.randrange(10**6))
    return " ".join(words)


@pytest.fixture
def rng() -> random.Random:
    return random.Random(1234)


@pytest.fixture(autouse=True)
def _restore_threads():  # type: ignore[no-untyped-def]
    import mmdedup

    n = mmdedup.get_num_threads()
    yield
    mmdedup.set_num_threads(n)
