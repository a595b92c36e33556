"""How numbers read: money, exact costs, changes, prices per 1M, quantities, counts and shares.

The one formatting module for pages, PDFs and CSVs for people (the exact CSVs for machines
keep plain Decimal text). Every function takes Decimal or int, never float (money.py refuses
floats), and returns text:

    money(Decimal("1234.5"), "USD")       "$1,234.50"
    money(Decimal("0.00036"), "USD")      "< $0.01"   (never "$0.00" for an amount that is not 0)
    exact_money(Decimal("0.00036"), "USD") "$0.00036"  (enough digits to show it)
    change(Decimal("5.03"), "USD")        "(+$5.03)"
    price(Decimal("0.8"))                 "0.80"      (per-1M prices: at least two decimals)
    per_million(Decimal("0.0000044043"))  "4.40 per 1M"
    quantity(Decimal("42.1901"))          "42.19";  count(64388) "64,388"
    share(Decimal("0.1234"))              "12.3%"
    counted(1, "price")                   "1 price"; agree(1, "price", "takes", "take") "1 price takes"
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from chargeback.money import MoneyError, format_money, minor_units, quantize

MINUS = "−"  # a true minus sign, for signed changes
SIGNIFICANT = 6  # digits kept for exact costs and rates, which are never rounded to the cent


def _dec(value: object) -> Decimal:
    if isinstance(value, float):
        raise MoneyError("numbers must be Decimal or int, not float")
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int | str):
        return Decimal(value)
    raise MoneyError(f"cannot format {type(value).__name__} as a number")


def money(amount: Decimal | int, currency: str) -> str:
    """Rounded to the currency's minor unit with its symbol and separators; an amount that is
    not zero but rounds to zero reads "< $0.01" (or "> −$0.01"), never "$0.00"."""
    value = _dec(amount)
    if value and not quantize(value, currency):
        smallest = format_money(Decimal(1).scaleb(-minor_units(currency)), currency)
        return f"< {smallest}" if value > 0 else f"> {MINUS}{smallest}"
    return format_money(value, currency)


def exact_money(amount: Decimal | int, currency: str) -> str:
    """An exact cost (one request's): at least the minor unit's digits, and for smaller amounts
    enough digits to show six significant ones: "$0.00036", "$1.25", "$0.000001234"."""
    value = _dec(amount)
    places = minor_units(currency)
    if value and abs(value) < 1:
        places = max(places, SIGNIFICANT - 1 - value.adjusted())
    text = _fixed(value, places, trim_to=minor_units(currency))
    symbol = format_money(Decimal(0), currency).rstrip("0.,")
    return f"-{symbol}{text.lstrip('-')}" if value < 0 else f"{symbol}{text}"


def plain_money(amount: Decimal | int, currency: str) -> str:
    """An amount for a spreadsheet: a plain number rounded to the minor unit ("1234.50"), no
    symbol or separators; an amount that rounds to zero keeps two significant digits
    ("0.00036"), so it never reads as 0."""
    value = _dec(amount)
    rounded = quantize(value, currency)
    if value and not rounded:
        return format(value.quantize(Decimal(1).scaleb(value.adjusted() - 1)), "f")
    return format(rounded, "f")


def signed_money(amount: Decimal | int | None, currency: str) -> str:
    """ "+$1,200.00", "−$300.00" (a true minus sign), "$0.00"."""
    if amount is None:
        return "—"
    value = _dec(amount)
    sign = "+" if value > 0 else (MINUS if value < 0 else "")
    return sign + money(abs(value), currency)


def change(amount: Decimal | int, currency: str) -> str:
    """A change in brackets with its sign: "(+$5.03)", "(−$2.00)", "(no change)"."""
    value = _dec(amount)
    if not quantize(value, currency):
        return "(no change)"
    return f"({signed_money(value, currency)})"


def price(value: Decimal | int | None) -> str:
    """A price per 1M tokens or per request, exact, as price books print them: at least two
    decimals, more only when the price has them: "0.80", "4.00", "0.075", "1,250.00"; "" for
    no price."""
    if value is None:
        return ""
    value = _dec(value)
    places = max(2, -value.normalize().as_tuple().exponent)
    return _fixed(value, min(places, 12), trim_to=2)


def prices(*values: Decimal | int | None) -> str:
    """Input, output and cached prices side by side: "0.80 / 4.00 / 0.08" ("—" for none)."""
    return " / ".join(price(v) or "—" for v in values)


def per_million(unit_price: Decimal | int) -> str:
    """An average price per token as a price per 1M tokens, to the cent when it is 1 or more
    and to three significant digits below: "4.40 per 1M", "3.00 per 1M", "0.0750 per 1M"."""
    value = _dec(unit_price) * 1_000_000
    places = 2 if abs(value) >= 1 or not value else max(2, 2 - value.adjusted())
    return f"{_fixed(value, places, trim_to=places)} per 1M"


def quantity(value: Decimal | int | None) -> str:
    """A count of things, whole with separators ("64,388"); a fractional one to two decimals
    ("42.19")."""
    if value is None:
        return "—"
    value = _dec(value)
    if value == value.to_integral_value():
        return f"{int(value):,}"
    return _fixed(value, 2, trim_to=2)


def count(n: int | None) -> str:
    """ "64,388"; "—" for none."""
    return "—" if n is None else f"{int(n):,}"


def share(value: Decimal | int | None, places: int = 1) -> str:
    """A fraction as a percentage: 0.1234 is "12.3%"; "—" for none."""
    if value is None:
        return "—"
    return f"{_round(_dec(value) * 100, places):,.{places}f}%"


def percent_rate(value: Decimal | int) -> str:
    """A rate (a markup or a discount, 0.2) as people write it: "20%", "12.5%"."""
    text = _fixed(_dec(value) * 100, 6, trim_to=0)
    return f"{text}%"


def counted(n: int, singular: str, plural: str | None = None) -> str:
    """ "1 price", "2 prices", "1,200 events"."""
    return f"{n:,} {singular if n == 1 else (plural or singular + 's')}"


def agree(n: int, singular: str, verb_one: str, verb_many: str, plural: str | None = None) -> str:
    """A count, its noun and a verb that agree: "1 price takes", "3 prices take"."""
    return f"{counted(n, singular, plural)} {verb_one if n == 1 else verb_many}"


def _round(value: Decimal, places: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def _fixed(value: Decimal, places: int, *, trim_to: int) -> str:
    """`value` to `places` decimals with separators, trailing zeros trimmed down to `trim_to`."""
    text = f"{_round(value, places):,.{places}f}"
    if "." not in text:
        return text
    whole, frac = text.split(".")
    frac = frac.rstrip("0").ljust(trim_to, "0")
    return f"{whole}.{frac}" if frac else whole
