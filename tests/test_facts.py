"""Facts kept: the numbers and names of a summary or a product description come from its source."""

from __future__ import annotations

import pytest

from fabula.backends.fake import FakeBackend
from fabula.pipeline import write
from fabula.post.facts import describe, numbers, unsupported
from fabula.sampling import SamplingParams
from fabula.settings import Settings

DESK = "A writing desk of walnut with three drawers and a leather top."
CAFES = "The chain opened 40 cafes over two years, its founder Ana Ruiz said."
HOTEL = "The Grand Hotel by the sea has 40 rooms, a pool and a garden."


@pytest.mark.parametrize(
    ("text", "source", "caught"),
    [
        # from a trial of the embedded model: each was printed as sound copy or a passed digest
        ("This stunning desk offers 150+ drawers for all your papers.", DESK, "numbers 150"),
        ("Four cafes opened this week.", CAFES, "numbers Four"),
        ("By Mark Zuckerberg & Kim Kardashi. A lovely stay.", HOTEL, "names Mark, Zuckerberg, Kim, Kardashi"),
        ("Handmade in Italy by Giovanni Rossi, the desk is walnut.", DESK, "names Italy, Giovanni, Rossi"),
        ("The chain opened 40 cafes in 2019.", CAFES, "numbers 2019"),
    ],
)
def test_invented_numbers_and_names_are_caught(text: str, source: str, caught: str) -> None:
    assert describe(unsupported(text, source)) == caught


@pytest.mark.parametrize(
    ("text", "source"),
    [
        ("A walnut desk with 3 drawers and a soft leather top.", DESK),  # "three" supports "3"
        ("Forty cafes in two years: founder Ana Ruiz is pleased.", CAFES),  # words and digits alike
        ("Elegant Walnut Writing Desk\nIts three drawers hold everything.", DESK),  # a Title Case heading
        ("Perfect for any study. The one you will keep for life.", DESK),  # "Perfect" opens; "one" is a pronoun
        ("Guests of the Grand Hotel love the pool, the garden and the sea.", HOTEL),
        ("A ten-minute read.", "A ten-minute read about tea."),
    ],
)
def test_paraphrase_with_the_sources_facts_passes(text: str, source: str) -> None:
    assert unsupported(text, source) == [], describe(unsupported(text, source))


def test_number_words_are_read_as_values() -> None:
    values = [c.value for c in numbers("twenty-five cats, two hundred dogs, a dozen eggs, 1,200 birds, 3.5 kg")]
    assert sorted(values) == [3.5, 12.0, 25.0, 200.0, 1200.0]


def test_product_copy_that_invents_is_resampled_and_never_passed_when_it_keeps_inventing() -> None:
    settings = Settings()
    honest = (
        "Our walnut writing desk has three drawers and a soft leather top, made to last for years and years of letters."
    )
    invents = (
        "Our walnut writing desk has 150+ drawers and a soft leather top, made in Italy for years and years of letters."
    )
    backend = FakeBackend("", settings, scripts=[invents, honest])
    work = write(backend, "product", DESK, params=SamplingParams(seed=1))
    assert work.passed and work.text == honest
    assert "facts: not in the product's facts: numbers 150; names Italy" in work.provenance["resampled"][0]["defect"]

    stubborn = FakeBackend("", settings, scripts=[invents])
    work = write(stubborn, "product", DESK, params=SamplingParams(seed=1))
    assert not work.passed and len(work.provenance["resampled"]) == 2  # the bound holds
    assert work.chosen.failures() == ["facts: not in the product's facts: numbers 150; names Italy"]
