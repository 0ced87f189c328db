"""File names from data: sanitised, inside the output folder, distinct (RELIABILITY.md)."""

import hashlib
from datetime import date

import pytest

from finrep.deliver.naming import distinct_names, distinct_stems, inside, pack_stem, slug
from finrep.errors import DeliveryError
from finrep.filters import Filters
from finrep.period import Period

SEPT = Period(date(2024, 9, 1), date(2024, 9, 30))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Ultra High Net Worth", "ultra-high-net-worth"),
        ("Affluent", "affluent"),
        ("../../etc/passwd", "etc-passwd"),
        ("..", "x"),
        ("a\\b/c", "a-b-c"),
        ("tab\there\nnewline\x00nul", "tab-here-newline-nul"),
        ("CON", "con-"),
        ("nul", "nul-"),
        ("LPT1", "lpt1-"),
        ("Dvořák", "dvorak"),
        ("王", "x"),
        ("", "x"),
        ("  Real Estate & Infra.  ", "real-estate-infra"),
    ],
)
def test_slug(value, expected):
    assert slug(value) == expected


def test_slug_is_bounded():
    assert len(slug("a" * 500)) == 60


def test_names_that_sanitise_alike_get_distinct_names():
    names = distinct_names({"A/B": "a-b", "A-B": "a-b", "West": "west"})
    h1 = hashlib.sha256(b"A/B").hexdigest()[:8]
    h2 = hashlib.sha256(b"A-B").hexdigest()[:8]
    assert names == {"A/B": f"a-b-{h1}", "A-B": f"a-b-{h2}", "West": "west"}


def test_burst_stems():
    assert pack_stem(SEPT, Filters.of(segment=["Affluent"]), ("segment", "Affluent")) == (
        "finrep-2024-09-segment-affluent"
    )
    # other filters come first; the burst dimension names the end of the file
    f = Filters.of(region=["West"], segment=["High Net Worth"])
    assert pack_stem(SEPT, f, ("segment", "High Net Worth")) == (
        "finrep-2024-09-region-west-segment-high-net-worth"
    )
    assert pack_stem(SEPT, Filters()) == "finrep-2024-09"
    assert pack_stem(SEPT, Filters.of(segment=["Affluent"], region=["West"])) == (
        "finrep-2024-09-segment-affluent-region-west"
    )
    assert pack_stem(SEPT, Filters.of(age_band=["60+"])) == "finrep-2024-09-age-band-60"


def test_period_ranges_never_write_dot_dot():
    q = Period(date(2024, 1, 1), date(2024, 3, 31))
    r = Period(date(2024, 1, 1), date(2024, 2, 29))
    assert pack_stem(q, Filters()) == "finrep-2024-Q1"
    assert pack_stem(r, Filters()) == "finrep-2024-01_2024-02"


def test_advisors_that_sanitise_alike_get_two_packs(tmp_path):
    sets = [Filters.of(advisor=[v]) for v in ("ADV/1", "ADV-1", "ADV 2")]
    stems = distinct_stems(SEPT, sets, burst_key="advisor")
    assert len(set(stems.values())) == 3
    assert stems[sets[2]] == "finrep-2024-09-advisor-adv-2"
    for stem in stems.values():
        assert stem.startswith("finrep-2024-09-advisor-adv-")
        path = inside(tmp_path, stem + ".pdf")
        assert path.parent == tmp_path


def test_long_stems_are_cut_and_stay_distinct():
    a = Filters.of(product=[f"Product {i} with a very long descriptive name" for i in range(8)])
    b = Filters.of(product=[f"Product {i} with a very long descriptive name" for i in range(9)])
    sa, sb = pack_stem(SEPT, a), pack_stem(SEPT, b)
    assert len(sa) <= 160 and len(sb) <= 160
    assert sa != sb


@pytest.mark.parametrize("name", ["..", "../x.pdf", "a/b.pdf", "a\\b.pdf", "", "x\x00.pdf"])
def test_inside_refuses_escaping_names(tmp_path, name):
    with pytest.raises(DeliveryError):
        inside(tmp_path, name)
