"""Dutch amounts and counts, parsed and shown one way across the app.

Residents and organisers type money the Dutch way: a dot groups thousands and a comma
starts the cents ("10.000", "1.500.000", "€ 3.000,50", "€ 250,-"). Reading "10.000" as ten
(as Python's ``float`` would) misstates a budget by a factor of 1,000, so every form, the
registry and the CLI go through :func:`parse_amount`, and every page writes money with
:func:`format_amount` (or :func:`format_money` in explanations, which rounds computed
shares to whole units). Errors are one Dutch line naming the field.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from fractions import Fraction

from weefsel.errors import InputError

SYMBOLS = {"EUR": "€", "PLN": "zł", "CHF": "CHF", "USD": "$", "GBP": "£"}

#: Largest amount accepted anywhere (a trillion): beyond it a typo is far likelier than a budget.
MAX_AMOUNT = Fraction(10**12)

_CURRENCY = re.compile(r"^(?:€|eur(?:o)?|zł|pln|chf|\$|£)\s*|\s*(?:€|eur(?:o)?|zł|pln|chf)$", re.IGNORECASE)
#: whole part with dots (or spaces) grouping thousands, or plain digits; optional ",cc" or ",-"
_DUTCH = re.compile(r"^(?P<whole>\d{1,3}(?:\.\d{3})+|\d{1,3}(?: \d{3})+|\d+)(?:,(?P<frac>\d{1,2}|-{1,2}))?$")


class AmountError(InputError):
    """An amount or count typed in a form that is not one: the message names the field."""

    def __init__(self, message: str):
        super().__init__(message)


def _whole_and_cents(text: str, field: str) -> Fraction:
    t = text.strip().replace("\u00a0", " ").replace("\u202f", " ")
    t = _CURRENCY.sub("", t).strip()
    if t.startswith(("-", "−")):
        raise AmountError(f"{field}: een negatief bedrag ({text.strip()}) kan hier niet")
    m = _DUTCH.match(t)
    if m is None:
        if re.fullmatch(r"\d+\.\d{1,2}", t):
            raise AmountError(f"{field}: {text.strip()!r} is onduidelijk; schrijf centen met een komma "
                              f"(bijv. {t.replace('.', ',')}) en duizendtallen met een punt (bijv. 10.000)")
        raise AmountError(f"{field}: {text.strip()!r} is geen bedrag; schrijf bijvoorbeeld 10.000 of € 3.000,50")
    whole = int(m["whole"].replace(".", "").replace(" ", ""))
    frac = m["frac"] or ""
    cents = 0 if (not frac or frac.startswith("-")) else int(frac.ljust(2, "0"))
    return Fraction(whole * 100 + cents, 100)


def parse_amount(value: str | int | Fraction | Decimal, field: str = "bedrag", *, positive: bool = True,
                 maximum: Fraction = MAX_AMOUNT) -> Fraction:
    """An amount as an exact Fraction (whole cents at most).

    Text is read the Dutch way ("10.000" = 10000, "€ 3.000,50" = 3000.5); ints, Fractions
    and Decimals (from JSON or code) are taken as they are. ``positive`` rejects zero.
    Floats are refused: they are how "10.000" turned into 10.
    """
    if isinstance(value, (bool, float)):
        raise AmountError(f"{field}: geef het bedrag als tekst of geheel getal, niet als {value!r}")
    if isinstance(value, int):
        amount = Fraction(value)
    elif isinstance(value, Fraction):
        amount = value
    elif isinstance(value, Decimal):
        try:
            amount = Fraction(value)
        except (ValueError, OverflowError):
            raise AmountError(f"{field}: {value} is geen bedrag") from None
    elif isinstance(value, str):
        if not value.strip():
            raise AmountError(f"{field} ontbreekt")
        if len(value) > 40:
            raise AmountError(f"{field}: te lang voor een bedrag")
        amount = _whole_and_cents(value, field)
    else:
        raise AmountError(f"{field}: {value!r} is geen bedrag")
    if amount < 0:
        raise AmountError(f"{field}: een negatief bedrag ({format_amount(-amount)} min) kan hier niet")
    if positive and amount == 0:
        raise AmountError(f"{field} moet groter dan nul zijn")
    if amount > maximum:
        raise AmountError(f"{field}: {format_amount(amount)} is meer dan het maximum {format_amount(maximum)}")
    if (amount * 100).denominator != 1:
        raise AmountError(f"{field}: hoogstens twee cijfers achter de komma")
    return amount


def format_amount(value: Fraction | int | str, currency: str | None = "EUR") -> str:
    """Dutch notation with the cents only when there are any: ``€ 10.000``, ``€ 3.000,50``.

    ``parse_amount(format_amount(x)) == x`` for every amount in whole cents (tested).
    ``currency=None`` leaves out the symbol.
    """
    v = Fraction(value) if not isinstance(value, Fraction) else value
    sign = "-" if v < 0 else ""
    v = abs(v)
    cents_total = (v * 100).numerator * 2 + (v * 100).denominator
    cents_total //= 2 * (v * 100).denominator                        # round half up to whole cents
    whole, cents = divmod(cents_total, 100)
    text = f"{whole:,}".replace(",", ".") + (f",{cents:02d}" if cents else "")
    if currency is None:
        return sign + text
    return f"{SYMBOLS.get(currency.upper(), currency)} {sign}{text}"


def format_money(value: Fraction | float, currency: str = "EUR") -> str:
    """Explanations and summaries: an amount in whole cents exactly as :func:`format_amount`
    (``€ 7.000,50``); a computed share that is not (``4210.333…``) rounded half up to whole
    units (``€ 4.210``), since a third of a cent means nothing to a reader."""
    v = Fraction(value)
    if (v * 100).denominator == 1:
        return format_amount(v, currency)
    whole = (v.numerator * 2 + v.denominator) // (2 * v.denominator)
    return f"{SYMBOLS.get(currency.upper(), currency)} {whole:,}".replace(",", ".")


def canonical(amount: Fraction) -> str:
    """The stored text of an amount: ``10000`` or ``3000.5`` (exact, Pabulib-compatible)."""
    if amount.denominator == 1:
        return str(amount.numerator)
    d = Decimal(amount.numerator) / Decimal(amount.denominator)
    return format(d.normalize(), "f")


def parse_count(value: str | int | None, field: str, *, minimum: int = 1, maximum: int = 100_000,
                optional: bool = False) -> int | None:
    """A whole number typed in a form (``max_keuzes``, number of codes), within bounds."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if optional:
            return None
        raise AmountError(f"{field} ontbreekt")
    if isinstance(value, bool):
        raise AmountError(f"{field}: {value!r} is geen aantal")
    if isinstance(value, int):
        n = value
    else:
        t = str(value).strip().replace(".", "") if re.fullmatch(r"\d{1,3}(\.\d{3})+", str(value).strip()) \
            else str(value).strip()
        if not re.fullmatch(r"[+-]?\d{1,12}", t):
            raise AmountError(f"{field}: {str(value).strip()[:40]!r} is geen geheel getal")
        n = int(t)
    if not minimum <= n <= maximum:
        raise AmountError(f"{field} moet tussen {minimum} en {format_amount(maximum, None)} liggen, niet {n}")
    return n


def parse_decimal(value: str | None, field: str, *, low: float, high: float) -> float | None:
    """An optional decimal number (coordinates): a comma or a dot as decimal sign."""
    if value is None or not str(value).strip():
        return None
    t = str(value).strip().replace(",", ".")
    try:
        x = Decimal(t)
    except InvalidOperation:
        raise AmountError(f"{field}: {str(value).strip()[:40]!r} is geen getal") from None
    if not x.is_finite() or not low <= x <= high:
        raise AmountError(f"{field} moet tussen {low:g} en {high:g} liggen".replace(".", ","))
    return float(x)
