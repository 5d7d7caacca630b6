"""The password policy: the one rule every way of setting a password calls.

Creating a user (page, command line, demo), changing one's own password and an
administrator's reset all go through check_policy(). It follows NIST SP 800-63B
(and OWASP ASVS 2.1): length over composition rules, and a refusal of passwords
attackers try first. The common passwords are Django's list (common-passwords.txt
beside this file; its provenance and licence are in common-passwords.LICENSE).
"""

import re
from collections import Counter
from functools import cache
from pathlib import Path

from agency.core.errors import ValidationError

MIN_LENGTH = 12
# Fewer distinct characters than this, or one character making up more than half, is a repetition.
MIN_DISTINCT = 5
COMMON_PASSWORDS = Path(__file__).with_name("common-passwords.txt")
_EMAIL_LIKE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# What people pad a common password with to reach the length: digits, punctuation, spaces
# ("iloveyou1234", "Summer2024!!"). Guessing tools try every common word so padded first.
_PADDING = re.compile(r"^[\W\d_]+|[\W\d_]+$")
# At most this share of neighbouring characters may step by one ("abcdefghijkl", "123456789012").
MAX_SEQUENTIAL_SHARE = 0.5


@cache
def common_passwords() -> frozenset[str]:
    """The shipped list, lower-cased as the comparison is; read once per process."""
    return frozenset(COMMON_PASSWORDS.read_text(encoding="utf-8").split("\n")) - {""}


def _problem(password: str, email: str | None = None) -> str | None:
    """What makes password unfit for the user with this email, or None when it is fit."""
    password = password or ""
    folded = password.casefold()
    if len(password) < MIN_LENGTH:
        return f"must be at least {MIN_LENGTH} characters (a few words make a good one)"
    if folded in common_passwords():
        return "is one of the most common passwords, which attackers try first; choose another"
    if (core := _PADDING.sub("", folded)) != folded and core in common_passwords():
        return "is a common password with digits or symbols added, which attackers try first; choose another"
    if email:
        email = email.casefold()
        local = email.partition("@")[0]
        if email in folded or (len(local) >= 3 and local in folded):
            return "must not contain your email address or its name part"
    if _EMAIL_LIKE.match(password.strip()):
        return "must not be an email address"
    most = Counter(folded).most_common(1)[0][1]
    if len(set(folded)) < MIN_DISTINCT or most * 2 > len(folded):
        return "is mostly one character repeated; use several different words or characters"
    steps = sum(abs(ord(b) - ord(a)) == 1 for a, b in zip(folded, folded[1:], strict=False))
    if steps > MAX_SEQUENTIAL_SHARE * (len(folded) - 1):
        return "is mostly a run of letters or digits in order; use several different words"
    if any(len(folded) % size == 0 and folded == folded[:size] * (len(folded) // size)
           for size in range(1, len(folded) // 2 + 1)):
        return "is one piece repeated; use several different words"
    return None


def check_policy(password: str, email: str | None = None, field: str = "password") -> None:
    """Refuse (ValidationError on field) a password the policy does not accept."""
    if (why := _problem(password, email)) is not None:
        raise ValidationError.on(field, why)
