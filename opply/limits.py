"""Limits and patterns that every app shares, each written once."""

from decimal import Decimal

# Primary keys are 64-bit integers.
MAX_ID = 2**63 - 1
# Any number of at most 18 digits fits in MAX_ID, so an id of that shape can be looked up
# without overflowing the column; a longer one cannot name a row.
ID_DIGITS = 18
ID_PATTERN = f"[0-9]{{1,{ID_DIGITS}}}"

# The largest value of a 32-bit integer column (stock, stock deltas).
MAX_INT = 2**31 - 1

# Money is kept in cents.
CENT = Decimal("0.01")


def looks_like_id(text: str) -> bool:
    """True for text that can name a row by its primary key (digits only, not too long)."""
    return text.isdecimal() and len(text) <= ID_DIGITS
