"""A small, independent model of how Excel displays a number under a custom number format.

Written from Excel's documented rules (not from finrep's code), for the subset of format
codes a report uses: sections ``positive;negative;zero``, quoted literals, ``0``/``#``
digit placeholders, a ``,`` thousands separator between placeholders, trailing ``,`` that
scale by 1,000 each, ``%`` (×100), and ``@`` (text). One-section formats put a minus sign in
front of negative numbers; explicit negative sections print the absolute value. Rounding is
half away from zero on the decimal value, as Excel does.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal


def _sections(fmt: str) -> list[str]:
    out, cur, quoted = [], "", False
    for ch in fmt:
        if ch == '"':
            quoted = not quoted
        if ch == ";" and not quoted:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    out.append(cur)
    return out


def _tokens(section: str) -> list[tuple[str, str]]:
    """(kind, text): kind is 'lit' for literal text, 'fmt' for placeholder characters."""
    out, i = [], 0
    while i < len(section):
        ch = section[i]
        if ch == '"':
            j = section.index('"', i + 1)
            out.append(("lit", section[i + 1 : j]))
            i = j + 1
        elif ch == "\\":
            out.append(("lit", section[i + 1]))
            i += 2
        elif ch in "0#,.%":
            out.append(("fmt", ch))
            i += 1
        elif ch == "[":
            raise ValueError(f"conditions are not modelled: {section!r}")
        else:
            out.append(("lit", ch))
            i += 1
    return out


def _number(tokens: list[tuple[str, str]], value: float) -> str:
    codes = "".join(t for k, t in tokens if k == "fmt")
    percent = "%" in codes
    codes = codes.replace("%", "")
    scale = len(codes) - len(codes.rstrip(","))
    body = codes.rstrip(",")
    int_part, _, dec_part = body.partition(".")
    decimals = dec_part.count("0")
    thousands = "," in int_part
    min_int = int_part.replace(",", "").count("0")
    v = Decimal(repr(float(value)))
    if percent:
        v *= 100
    v /= Decimal(1000) ** scale
    q = v.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    whole, _, frac = f"{q:f}".partition(".")
    whole = whole.lstrip("-")
    if int(whole) == 0 and min_int == 0:
        whole = ""
    elif thousands:
        whole = f"{int(whole):,}"
    text = whole + ("." + frac if decimals else "")
    if percent:
        text += "%"
    return text


def excel_display(fmt: str, value: float | str) -> str:
    """The text Excel shows for `value` under number format `fmt`."""
    if fmt == "@" or isinstance(value, str):
        return str(value)
    sections = _sections(fmt)
    if len(sections) == 1:
        section, sign = sections[0], "-" if value < 0 else ""
    elif value > 0 or (value == 0 and len(sections) < 3):
        section, sign = sections[0], ""
    elif value < 0:
        section, sign = sections[1], ""
    else:
        section, sign = sections[2], ""
    tokens = _tokens(section)
    first = next(i for i, (k, _) in enumerate(tokens) if k == "fmt")
    last = max(i for i, (k, _) in enumerate(tokens) if k == "fmt")
    prefix = "".join(t for _, t in tokens[:first])
    suffix = "".join(t for _, t in tokens[last + 1 :])
    number = _number(tokens[first : last + 1], abs(value))
    return sign + prefix + number + suffix
