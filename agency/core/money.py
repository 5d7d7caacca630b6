"""Money is Decimal, quantised to cents half-up; JSON carries it as a string."""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from agency.core.bounds import MAX_AMOUNT

CENT = Decimal("0.01")
TENTH = Decimal("0.1")


def to_cents(value) -> Decimal:
    """Round a Decimal-able value to cents, half-up."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def to_tenths(value) -> Decimal:
    """A ratio for people (a percentage, a number of days): one decimal place, half-up."""
    return Decimal(value).quantize(TENTH, rounding=ROUND_HALF_UP)


def money_str(value: Decimal | None) -> str | None:
    """Money for machines (JSON, CSV): a plain decimal string, no separators."""
    return None if value is None else str(to_cents(value))


def format_money(value: Decimal | int | None) -> str:
    """Money for people (pages, PDFs, emails, flashes, the audit log): "$12,345.60"; a credit "($1,234.00)".

    Negatives in parentheses, as accountants write credits: no sign to lose in a PDF font or a narrow column.
    Floats are refused: a float has already lost cents a person would see.
    """
    if value is None:
        return "—"
    if isinstance(value, float | bool):
        raise TypeError("money is a Decimal, never a float")
    cents = to_cents(value)
    return f"(${-cents:,})" if cents < 0 else f"${cents:,}"


def parse_decimal(value, *, places: int = 2, minimum: Decimal | None = Decimal("0"),
                  maximum: Decimal | None = None) -> Decimal:
    """Parse a JSON number or decimal string; floats go through str() so 1.1 stays 1.1."""
    if isinstance(value, bool) or value is None:
        raise ValueError("must be a number")
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise ValueError("must be a number") from None
    if not number.is_finite():
        raise ValueError("must be a finite number")
    if abs(number) >= MAX_AMOUNT:
        raise ValueError(f"must be less than {MAX_AMOUNT:,}")
    if number != number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP):
        raise ValueError(f"must have at most {places} decimal places")
    if minimum is not None and number < minimum:
        raise ValueError(f"must be at least {minimum}")
    if maximum is not None and number > maximum:
        raise ValueError(f"must be at most {maximum}")
    return number
