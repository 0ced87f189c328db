"""Column values as the generator holds them, and their conversion to Arrow arrays and CSV text.

The generator keeps every column as numpy arrays until it writes a chunk:

- `Scaled`: a decimal number held as whole integers (money in cents: ``scale=2``), so
  amounts are exact and the CSV shows exactly ``scale`` decimals;
- `Dates`: days since 1970-01-01;
- `Codes`: indexes into a small tuple of labels (enum columns, pools of names);
- `Text`: a ready Arrow string array (ids, e-mails, phone numbers);
- `Ints`: whole numbers;
- `Serial`: consecutive ids, numbered when the chunk is written.

Each kind converts to a typed Arrow array (Parquet) and to a CSV text array. Text is built
with vectorised byte arithmetic or Arrow compute, never per row in Python.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_NEEDS_QUOTES = r'[",\r\n]'


# Four ASCII digits "0000".."9999" packed in a little-endian uint32 each: ids are written four
# digits per lookup instead of one digit per division.
_QUADS = np.array([int.from_bytes(f"{i:04d}".encode(), "little") for i in range(10000)],
                  dtype=np.uint32)  # fmt: skip


def digits(values: np.ndarray, width: int) -> np.ndarray:
    """ASCII digits of non-negative integers, zero-padded: a ``(n, width)`` uint8 matrix.

    Values wider than `width` keep their lowest `width` digits (callers size widths so this
    never happens).
    """
    v = np.asarray(values).astype(np.uint32 if width <= 9 else np.uint64)
    groups = -(-width // 4)
    words = np.empty((v.shape[0], groups), dtype=np.uint32)
    for g in range(groups - 1, -1, -1):
        q = v // 10000
        words[:, g] = _QUADS[v - q * 10000]
        v = q
    return words.view(np.uint8)[:, groups * 4 - width :]


def fixed_text(n: int, *parts: bytes | np.ndarray) -> pa.StringArray:
    """Strings of equal width glued from constant byte strings and ``(n, k)`` uint8 matrices."""
    widths = [len(p) if isinstance(p, bytes) else p.shape[1] for p in parts]
    width = sum(widths)
    out = np.empty((n, width), dtype=np.uint8)
    at = 0
    for part, w in zip(parts, widths, strict=True):
        out[:, at : at + w] = (
            np.frombuffer(part, dtype=np.uint8) if isinstance(part, bytes) else part
        )
        at += w
    offsets = np.arange(n + 1, dtype=np.int32) * np.int32(width)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(out))


def make_ids(prefix: str, numbers: np.ndarray, width: int) -> pa.StringArray:
    """``prefix`` + zero-padded number, e.g. ``make_ids("CUS", [1], 7)`` → ``CUS0000001``."""
    numbers = np.asarray(numbers)
    return fixed_text(len(numbers), prefix.encode(), digits(numbers, width))


def id_width(minimum: int, largest: int) -> int:
    """Digits for ids up to `largest`, at least `minimum` (ids sort as text)."""
    return max(minimum, len(str(max(int(largest), 1))))


def _ymd(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    d = np.asarray(days, dtype=np.int64).astype("datetime64[D]")
    months = d.astype("datetime64[M]")
    year = months.astype(np.int64) // 12 + 1970
    month = months.astype(np.int64) % 12 + 1
    day = (d - months.astype("datetime64[D]")).astype(np.int64) + 1
    return year, month, day


def iso_dates(days: np.ndarray) -> pa.StringArray:
    """ISO ``YYYY-MM-DD`` text of days since the epoch (years 1000–9999)."""
    days = np.asarray(days, dtype=np.int64)
    if len(days) == 0:
        return pa.array([], type=pa.string())
    # Format each distinct day of the span once, then look rows up (10 bytes each).
    lo = int(days.min())
    span = np.arange(lo, int(days.max()) + 1)
    year, month, day = _ymd(span)
    table = np.empty((len(span), 10), dtype=np.uint8)
    table[:, 0:4] = digits(year, 4)
    table[:, 4] = ord("-")
    table[:, 5:7] = digits(month, 2)
    table[:, 7] = ord("-")
    table[:, 8:10] = digits(day, 2)
    rows = table.view("S10").ravel()[days - lo]
    n = len(days)
    offsets = np.arange(n + 1, dtype=np.int32) * np.int32(10)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(rows))


def decimal_text(values: np.ndarray, scale: int, valid: np.ndarray | None = None) -> pa.Array:
    """Text of ``values / 10**scale`` with exactly `scale` decimals (``-12.50``); blank where
    not `valid`.

    Each value is laid out right-aligned in a fixed-width byte matrix (sign, whole digits,
    point, decimals); the padding left of each value is then dropped in one pass.
    """
    v = np.asarray(values, dtype=np.int64)
    n = len(v)
    if n == 0:
        return pa.array([], type=pa.string())
    negative = v < 0
    magnitude = np.abs(v)
    unit = 10**scale
    whole = magnitude // unit
    # Digits of the whole part (at least one: "0.25").
    n_digits = np.ones(n, dtype=np.int64)
    power = 10
    top = int(whole.max())
    while power <= top:
        n_digits += whole >= power
        power *= 10
    width_whole = int(n_digits.max())
    tail = scale + 1 if scale else 0
    width = 1 + width_whole + tail
    matrix = np.empty((n, width), dtype=np.uint8)
    matrix[:, 0] = ord("-")
    matrix[:, 1 : 1 + width_whole] = digits(whole, width_whole)
    if scale:
        matrix[:, 1 + width_whole] = ord(".")
        matrix[:, 2 + width_whole :] = digits(magnitude % unit, scale)
    lengths = n_digits + tail + negative
    if negative.any():
        rows = np.flatnonzero(negative)
        matrix[rows, width - lengths[rows]] = ord("-")
    blank = None
    if valid is not None:
        blank = ~np.asarray(valid, dtype=bool)
        lengths = np.where(blank, 0, lengths)
    keep = np.arange(width)[None, :] >= (width - lengths)[:, None]
    data = matrix[keep]
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    bitmap = None
    if blank is not None and blank.any():
        bitmap = pa.array(~blank).buffers()[1]
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data), bitmap)


def _valid_mask(valid: np.ndarray | None) -> np.ndarray | None:
    return None if valid is None else ~np.asarray(valid, dtype=bool)


@dataclass
class Scaled:
    """Decimal numbers held as integers: the value is ``values / 10**scale``."""

    values: np.ndarray
    scale: int
    valid: np.ndarray | None = None  # False where the value is blank

    def to_arrow(self) -> pa.Array:
        floats = np.asarray(self.values, dtype=np.int64) / float(10**self.scale)
        return pa.array(floats, type=pa.float64(), mask=_valid_mask(self.valid))

    def to_text(self) -> pa.Array:
        return decimal_text(self.values, self.scale, self.valid)


@dataclass
class Dates:
    days: np.ndarray  # days since 1970-01-01

    def to_arrow(self) -> pa.Array:
        return pa.array(np.asarray(self.days, dtype=np.int32), type=pa.date32())

    def to_text(self) -> pa.Array:
        return iso_dates(self.days)


@dataclass
class Codes:
    """Indexes into `labels` (a tuple of text, or an Arrow string array such as a chunk's
    customer ids); a negative code is a blank. Arrow: a dictionary array, which Parquet
    stores as its dictionary encoding; readers see plain text. Labels must be distinct:
    with repeated labels Parquet falls back to plain pages whose bytes were seen to vary
    from run to run."""

    codes: np.ndarray
    labels: tuple[str, ...] | pa.Array

    def _dictionary(self, labels: pa.Array) -> pa.DictionaryArray:
        codes = np.asarray(self.codes, dtype=np.int32)
        blank = codes < 0
        if blank.any():
            indices = pa.array(np.where(blank, 0, codes), type=pa.int32(), mask=blank)
        else:
            indices = pa.array(codes, type=pa.int32())
        return pa.DictionaryArray.from_arrays(indices, labels)

    def _labels(self) -> pa.Array:
        if isinstance(self.labels, pa.Array):
            return self.labels
        return pa.array(self.labels, type=pa.string())

    def to_arrow(self) -> pa.Array:
        return self._dictionary(self._labels())

    def to_text(self) -> pa.Array:
        labels = quote_csv_array(self._labels())
        return self._dictionary(labels).cast(pa.string())


@dataclass
class Text:
    values: pa.Array  # string
    safe: bool = False  # True when no value can contain a comma, quote or newline

    def to_arrow(self) -> pa.Array:
        return self.values

    def to_text(self) -> pa.Array:
        if self.safe:
            return self.values
        return quote_csv_array(self.values)


@dataclass
class Ints:
    values: np.ndarray

    def to_arrow(self) -> pa.Array:
        return pa.array(np.asarray(self.values, dtype=np.int64), type=pa.int64())

    def to_text(self) -> pa.Array:
        return pc.cast(self.to_arrow(), pa.string())


@dataclass
class Serial:
    """Consecutive ids ``prefix + zero-padded number``: numbers ``first + 1 … first + n``.

    `first` is set when the chunk is written, so chunks can be built in any order.
    """

    prefix: str
    width: int
    n: int
    first: int | None = None

    def to_arrow(self) -> pa.Array:
        if self.first is None:
            raise AssertionError("Serial ids written before numbering")
        n, width = self.n, self.width
        first = self.first + 1
        if width <= 4 or n == 0:
            return make_ids(self.prefix, np.arange(first, first + n), width)
        # Consecutive numbers come in blocks of 10,000 sharing every digit but the last four,
        # which run through 0000..9999 in order: copy a block template instead of computing.
        prefix = np.frombuffer(self.prefix.encode(), dtype=np.uint8)
        at_high = len(prefix)
        at_low = at_high + width - 4
        template = np.empty((10000, at_low + 4), dtype=np.uint8)
        template[:, :at_high] = prefix
        template[:, at_low:] = _QUADS.view(np.uint8).reshape(10000, 4)
        out = np.empty((n, at_low + 4), dtype=np.uint8)
        number, row = first, 0
        while row < n:
            block, offset = divmod(number, 10000)
            take = min(10000 - offset, n - row)
            template[:, at_high:at_low] = digits(np.array([block]), width - 4)
            out[row : row + take] = template[offset : offset + take]
            number += take
            row += take
        offsets = np.arange(n + 1, dtype=np.int32) * np.int32(out.shape[1])
        return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(out))

    def to_text(self) -> pa.Array:
        return self.to_arrow()


Column = Scaled | Dates | Codes | Text | Ints | Serial


def quote_csv(value: str) -> str:
    """RFC 4180 quoting, only where needed."""
    if any(ch in value for ch in '",\r\n'):
        return '"' + value.replace('"', '""') + '"'
    return value


def quote_csv_array(values: pa.Array) -> pa.Array:
    needs = pc.match_substring_regex(values, _NEEDS_QUOTES)
    if not pc.any(needs).as_py():
        return values
    quoted = pc.binary_join_element_wise('"', pc.replace_substring(values, '"', '""'), '"', "")
    return pc.if_else(needs, quoted, values)


def csv_lines(columns: list[pa.Array]) -> pa.Buffer:
    """The CSV body for equal-length text columns: one line per row, blanks for nulls.

    Returned as a slice of Arrow's own buffer (no copy); it supports the buffer protocol, so
    files take it directly.
    """
    line = pc.binary_join_element_wise(*columns, ",", null_handling="replace", null_replacement="")
    line = pc.binary_join_element_wise(line, "", "\n")
    if isinstance(line, pa.ChunkedArray):
        line = line.combine_chunks()
    if len(line) == 0:
        return pa.py_buffer(b"")
    offsets = np.frombuffer(line.buffers()[1], dtype=np.int32, count=len(line) + 1,
                            offset=line.offset * 4)  # fmt: skip
    start, end = int(offsets[0]), int(offsets[-1])
    return line.buffers()[2].slice(start, end - start)
