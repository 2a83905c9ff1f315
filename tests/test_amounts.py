"""Dutch amounts: "10.000" is ten thousand, one notation everywhere, one Dutch line per error."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from weefsel.errors import InputError
from weefsel.participation.amounts import (
    canonical,
    format_amount,
    format_money,
    parse_amount,
    parse_count,
    parse_decimal,
)
from weefsel.participation.budgeting.explain import money


@pytest.mark.parametrize("text, value", [
    ("10.000", 10000), ("1.500.000", 1500000), ("€ 3.000,50", Fraction(6001, 2)), ("3000,5", Fraction(6001, 2)),
    ("10000", 10000), ("€10.000", 10000), ("10.000 euro", 10000), ("EUR 250", 250), ("€ 250,-", 250),
    ("1 500 000", 1500000), ("0,05", Fraction(1, 20)), ("  7  ", 7), ("€\u00a012.500", 12500),
])
def test_dutch_notation(text, value):
    assert parse_amount(text, "budget") == value


@pytest.mark.parametrize("text, message", [
    ("1/3", "geen bedrag"), ("-5", "negatief"), ("€ -5", "negatief"), ("0", "groter dan nul"),
    ("0,00", "groter dan nul"), ("10.5", "komma"), ("10.50", "komma"), ("1,234", "geen bedrag"),
    ("1.5.0", "geen bedrag"), ("abc", "geen bedrag"), ("", "ontbreekt"), ("1e6", "geen bedrag"),
    ("10.00.000", "geen bedrag"), ("nan", "geen bedrag"), ("2.000.000.000.000", "maximum"),
])
def test_rejected_with_the_field_named(text, message):
    with pytest.raises(InputError, match=message) as err:
        parse_amount(text, "kosten")
    assert str(err.value).startswith("kosten") and "\n" not in str(err.value)


def test_numbers_from_code_and_json():
    assert parse_amount(10000, "budget") == 10000
    assert parse_amount(Decimal("12.5"), "budget") == Fraction(25, 2)
    with pytest.raises(InputError, match="niet als"):
        parse_amount(10.0, "budget")          # floats are how "10.000" became 10
    with pytest.raises(InputError, match="twee cijfers"):
        parse_amount(Fraction(1, 3), "budget")
    assert parse_amount("0", "bijdrage", positive=False) == 0


@given(st.integers(min_value=1, max_value=10**14))
def test_format_then_parse_round_trip(cents):
    value = Fraction(cents, 100)
    text = format_amount(value)
    assert parse_amount(text, "bedrag") == value
    assert parse_amount(format_amount(value, None), "bedrag") == value
    assert Fraction(canonical(value)) == value


@given(st.integers(min_value=0, max_value=10**12))
def test_money_whole_units_reads_back(whole):
    assert parse_amount(format_money(whole), "bedrag", positive=False) == whole
    assert money(whole) == format_money(whole)          # explanations use the same notation


def test_formats():
    assert format_amount(10000) == "€ 10.000"
    assert format_amount(Fraction(6001, 2)) == "€ 3.000,50"
    assert format_amount("1500000", "PLN") == "zł 1.500.000"
    assert format_money(Fraction(12631, 3)) == "€ 4.210"          # a computed share: whole units
    assert format_money(Fraction(14001, 2)) == "€ 7.000,50"        # an amount in cents stays exact
    assert canonical(Fraction(6001, 2)) == "3000.5"


@pytest.mark.parametrize("text, message", [
    ("-3", "tussen 1 en 1.000"), ("0", "tussen 1 en 1.000"), ("1001", "niet 1001"), ("drie", "geen geheel getal"),
    ("2,5", "geen geheel getal"), ("1/3", "geen geheel getal"),
])
def test_counts(text, message):
    with pytest.raises(InputError, match=message) as err:
        parse_count(text, "max_keuzes", maximum=1000)
    assert str(err.value).startswith("max_keuzes")


def test_counts_ok():
    assert parse_count("3", "max_keuzes") == 3
    assert parse_count("10.000", "aantal codes") == 10000
    assert parse_count("", "max_keuzes", optional=True) is None
    assert parse_decimal("52,37", "breedtegraad", low=-90, high=90) == pytest.approx(52.37)
    with pytest.raises(InputError, match="breedtegraad moet tussen"):
        parse_decimal("152", "breedtegraad", low=-90, high=90)
    with pytest.raises(InputError, match="lengtegraad: 'oost' is geen getal"):
        parse_decimal("oost", "lengtegraad", low=-180, high=180)
