"""Masking of customer e-mail addresses and phone numbers (RELIABILITY.md, Privacy).

Applied to every data-derived string that goes into an email body (narrative, filters,
labels), so a customer's contact details can never leak through a free-text field.
Recipient addresses are not customer data and are not masked.
"""

from __future__ import annotations

import re

_EMAIL = re.compile(
    r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.([A-Za-z]{2,})"
)
# North-American style numbers as Faker and CRMs write them: 555-123-4567, (555) 123-4567,
# +1-555-123-4567, 555.123.4567x89, 5551234567. Dates and formatted amounts do not match.
_PHONE = re.compile(
    r"(?<![\w$])(?:\+?\d{1,3}[\s.-]?)?\(?\d{3}\)?[\s.-]?\d{3}[\s.-]?(\d{4})"
    r"(?:\s*(?:x|ext\.?)\s*\d{1,6})?(?![\w])"
)


def mask_pii(text: str) -> str:
    """``alice@mail.com`` → ``a***@***.com``; ``(555) 123-4821`` → ``***-***-4821``."""
    text = _EMAIL.sub(lambda m: f"{m.group(1)}***@***.{m.group(2)}", text)
    return _PHONE.sub(lambda m: f"***-***-{m.group(1)}", text)
