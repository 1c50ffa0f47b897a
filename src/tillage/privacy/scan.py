"""Suggested column classes: detectors of personal identifiers, and a column's proposal.

A scan looks at a sample of a column's values and proposes a `ColumnClass` for
a person to review in ``.tillage/policy.yaml``. It releases only classes,
detector names, counts and shares, never a value.

Detectors (each a pure function of one text value):

- ``email``: ``local@domain.tld`` with a letter-only top-level domain;
- ``phone``: E.164 (``+`` and 8 to 15 digits, spaces, dashes, dots or brackets
  allowed) or a national format with separators: North American
  ``(212) 555-1234`` / ``212-555-1234`` / ``212.555.1234`` (area code and
  exchange start with 2-9) and UK ``020 7946 0958`` / ``07700 900123``. A bare
  run of digits is an id, not a phone: it does not match;
- ``card``: 13 to 19 digits, optionally in groups split by single spaces or
  dashes, passing the Luhn check;
- ``ssn``: US social security number ``AAA-GG-SSSS`` (dashed: nine bare digits
  are as often an id or a ZIP+4), without the ranges never issued (area 000,
  666, 900-999; group 00; serial 0000);
- ``nino``: UK national insurance number (two prefix letters from the allowed
  set, six digits, suffix A-D);
- ``iban``: country code, two check digits and 11 to 30 letters or digits,
  passing the ISO 13616 mod-97 check;
- ``ipv4`` and ``ipv6``: addresses that `ipaddress` accepts (``256.1.1.1``
  does not; neither does the unspecified ``::``).

A value is matched *whole* (the value is an identifier) or, for free text (a
value with whitespace in it), *inside* it (the text contains one).

Thresholds, fixed before any measurement and not tuned on data:

- `VALUE_SHARE` = 0.5: a column whose sampled values are identifiers in at
  least half the cases is an identifier column. Random digit strings pass the
  Luhn check one time in ten, so a column of 16-digit order ids shows a card
  share near 0.1, well under it.
- `TEXT_SHARE` = 0.01: free text that contains identifiers in at least 1% of
  its values releases them; fewer (but some) makes the column ``sensitive``
  for review.

A column's name is a second signal (`name_hint`): ``email``, ``phone``,
``ssn``, ``name``, ``address``, ``ip``, ``card``, ``iban`` suggest a direct
identifier; ``dob``, ``birth``, ``zip``, ``postcode`` a quasi-identifier.

A column's proposal (`scan_column`), the first rule that holds:

1. at least `VALUE_SHARE` of its values are identifiers: ``direct_identifier``;
2. at least `TEXT_SHARE` of its values are free text containing one:
   ``direct_identifier``;
3. its name suggests a class: that class;
4. some values (fewer than `TEXT_SHARE`) contain one: ``sensitive``;
5. else ``public``.

Limits: whole-number columns are checked as card numbers only; people's names
and street addresses have no value detector (their column names do); private
facts that identify no one (income, health) are not recognised, so a person
marks them ``sensitive``; a version number such as ``1.2.3.4`` inside text
reads as an IPv4 address.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from tillage.core.policy import ColumnClass

VALUE_SHARE = 0.5
TEXT_SHARE = 0.01
DEFAULT_SAMPLE = 1000

# -- detectors -----------------------------------------------------------------------

_EMAIL = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,24}"
)
_E164 = re.compile(r"\+\d(?:[ .-]?\(?\d+\)?){2,8}")
_NANP = re.compile(r"(?:\+?1[ .-]?)?(?:\([2-9]\d{2}\) ?|[2-9]\d{2}[.-])[2-9]\d{2}[.-]\d{4}")
_UK_PHONE = re.compile(r"0\d{2,4} \d{3,4} ?\d{3,4}")
_CARD = re.compile(r"\d(?:[ -]?\d){12,18}")
_SSN = re.compile(r"(\d{3})-(\d{2})-(\d{4})")
_NINO = re.compile(
    r"(?!BG|GB|KN|NK|NT|TN|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D]"
)
_IBAN = re.compile(r"[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}")
_IPV4 = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")
_IPV6 = re.compile(r"[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?:%\w+)?")


def _joined(text: str, i: int, step: int) -> bool:
    """Whether the character at ``i`` ties a match to a longer token (``ORD-212-555-1234``)."""
    if not 0 <= i < len(text):
        return False
    c = text[i]
    if c.isalnum() or c in "_@":
        return True
    beyond = i + step
    return c in ".-+/:" and 0 <= beyond < len(text) and text[beyond].isalnum()


def luhn(digits: str) -> bool:
    """Whether the digit string passes the Luhn check (card numbers)."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _digits(s: str) -> str:
    return "".join(ch for ch in s if ch.isdigit())


def _card(s: str) -> bool:
    d = _digits(s)
    return 13 <= len(d) <= 19 and len(set(d)) > 1 and luhn(d)


def _ssn_parts(area: str, group: str, serial: str) -> bool:
    a = int(area)
    return a != 0 and a != 666 and a < 900 and group != "00" and serial != "0000"


def _ssn(s: str) -> bool:
    m = _SSN.fullmatch(s)
    return m is not None and _ssn_parts(*m.groups())


def _iban(s: str) -> bool:
    compact = s.replace(" ", "")
    if not 15 <= len(compact) <= 34:
        return False
    moved = compact[4:] + compact[:4]
    number = "".join(str(int(ch, 36)) for ch in moved)
    return int(number) % 97 == 1


def _ipv4(s: str) -> bool:
    try:
        ipaddress.IPv4Address(s)
    except ValueError:
        return False
    return True


def _ipv6(s: str) -> bool:
    if s.count(":") < 2 or not any(c.isalnum() for c in s):
        return False
    try:
        address = ipaddress.IPv6Address(s)
    except ValueError:
        return False
    return not address.is_unspecified


def _phone(s: str) -> bool:
    if _E164.fullmatch(s):
        return 8 <= len(_digits(s)) <= 15
    return bool(_NANP.fullmatch(s) or _UK_PHONE.fullmatch(s))


@dataclass(frozen=True)
class Detector:
    """One kind of identifier: its pattern, a check beyond it, and the class it implies.

    Attributes:
        name: how reports name it (``email``, ``card``, ...).
        pattern: what a candidate looks like (searched for in free text).
        check: whether one candidate (the whole matched text) is really one.
        cls: the class of a column of such values.
    """

    name: str
    pattern: re.Pattern[str]
    check: Callable[[str], bool]
    cls: ColumnClass = ColumnClass.DIRECT_IDENTIFIER

    def matches(self, value: str) -> bool:
        """Whether ``value``, stripped, is one such identifier as a whole."""
        v = value.strip()
        return bool(self.pattern.fullmatch(v)) and self.check(v)

    def found_in(self, text: str) -> bool:
        """Whether ``text`` contains one (not as part of a longer token)."""
        for m in self.pattern.finditer(text):
            start, end = m.span()
            if _joined(text, start - 1, -1) or _joined(text, end, 1):
                continue
            if self.check(m.group()):
                return True
        return False


DETECTORS: tuple[Detector, ...] = (
    Detector("email", _EMAIL, lambda s: True),
    Detector("phone", re.compile(f"{_E164.pattern}|{_NANP.pattern}|{_UK_PHONE.pattern}"), _phone),
    Detector("card", _CARD, _card),
    Detector("ssn", _SSN, _ssn),
    Detector("nino", _NINO, lambda s: True),
    Detector("iban", _IBAN, _iban),
    Detector("ipv4", _IPV4, _ipv4),
    Detector("ipv6", _IPV6, _ipv6),
)
_BY_NAME = {d.name: d for d in DETECTORS}


def detect(value: str) -> list[str]:
    """The detectors that ``value`` is, as a whole (usually none or one)."""
    return [d.name for d in DETECTORS if d.matches(value)]


def detect_in_text(text: str) -> list[str]:
    """The detectors that find an identifier inside the free text ``text``."""
    return [d.name for d in DETECTORS if d.found_in(text)]


# -- column names --------------------------------------------------------------------

_DIRECT_NAMES = {
    "email",
    "phone",
    "mobile",
    "telephone",
    "ssn",
    "nino",
    "name",
    "firstname",
    "lastname",
    "fullname",
    "surname",
    "address",
    "ip",
    "card",
    "iban",
    "passport",
}
_QUASI_NAMES = {"dob", "birth", "birthday", "birthdate", "zip", "zipcode", "postcode", "postal"}


def name_hint(column: str) -> ColumnClass | None:
    """The class a column's name suggests (by whole words of it), or None.

    ``first_name``, ``EmailAddress`` and ``client-ip`` are direct identifiers
    by name; ``zip`` and ``date_of_birth`` quasi-identifiers; ``ship_date``
    and ``filename`` nothing (``ip`` and ``name`` must be words of their own).
    """
    words = {w.lower() for w in re.findall(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+", column)}
    if words & _DIRECT_NAMES:
        return ColumnClass.DIRECT_IDENTIFIER
    if words & _QUASI_NAMES:
        return ColumnClass.QUASI_IDENTIFIER
    return None


# -- a column's proposal -------------------------------------------------------------


@dataclass(frozen=True)
class DetectorHit:
    """One detector that fired on a column: how many sampled values it matched.

    Attributes:
        detector: the detector's name.
        how: ``"value"`` (values that are one, whole) or ``"text"`` (free text containing one).
        count: how many sampled non-null values it matched.
        share: ``count`` over the sampled non-null values.
    """

    detector: str
    how: str
    count: int
    share: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "detector": self.detector,
            "how": self.how,
            "count": self.count,
            "share": round(self.share, 4),
        }


@dataclass(frozen=True)
class ColumnScan:
    """The proposal for one column, and the evidence for it (never a value).

    Attributes:
        column: the column's name.
        type: its Arrow type, as text.
        proposed: the proposed class.
        sampled: how many non-null values were looked at (0: only the name was).
        hits: the detectors that fired, most matches first.
        name_hint: the class the column's name suggests, if any.
        reason: why, in a sentence.
    """

    column: str
    type: str
    proposed: ColumnClass
    sampled: int
    hits: tuple[DetectorHit, ...]
    name_hint: ColumnClass | None
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "column": self.column,
            "type": self.type,
            "proposed": self.proposed.value,
            "sampled": self.sampled,
            "hits": [h.to_dict() for h in self.hits],
            "name_hint": self.name_hint.value if self.name_hint else None,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class ScanReport:
    """The proposals for every column of one dataset version.

    Attributes:
        dataset: the dataset.
        commit: the commit whose version was scanned.
        rows: the version's rows.
        sampled_rows: how many of them were sampled (seeded: the same each time).
        seed: the sample's seed.
        columns: one proposal per column, in the dataset's order.
    """

    dataset: str
    commit: str
    rows: int
    sampled_rows: int
    seed: int
    columns: tuple[ColumnScan, ...]

    def column(self, name: str) -> ColumnScan:
        """The proposal for column ``name``."""
        for c in self.columns:
            if c.column == name:
                return c
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "commit": self.commit,
            "rows": self.rows,
            "sampled_rows": self.sampled_rows,
            "seed": self.seed,
            "thresholds": {"value_share": VALUE_SHARE, "text_share": TEXT_SHARE},
            "columns": [c.to_dict() for c in self.columns],
        }


def _pct(share: float) -> str:
    return f"{share:.0%}" if share >= 0.01 else f"{share:.1%}"


def scan_column(
    column: str, type_: str, values: Iterable[Any] | None, *, numbers: bool = False
) -> ColumnScan:
    """Propose a class for ``column`` from its sampled non-null ``values`` and its name.

    Args:
        column: the column's name.
        type_: its type, as text (reported only).
        values: the sampled values (nulls are skipped); None when the column's
            type holds no identifier a detector knows (floats, dates, booleans),
            so only its name counts.
        numbers: the values are whole numbers, checked as card numbers only.
    """
    hint = name_hint(column)
    texts = [] if values is None else [str(v) for v in values if v is not None]
    n = len(texts)
    whole: dict[str, int] = {}
    inside: dict[str, int] = {}
    any_whole = any_inside = 0
    card = _BY_NAME["card"]
    for text in texts:
        names = (["card"] if card.matches(text) else []) if numbers else detect(text)
        for name in names:
            whole[name] = whole.get(name, 0) + 1
        any_whole += bool(names)
        if not names and not numbers and any(ch.isspace() for ch in text.strip()):
            found = detect_in_text(text)
            for name in found:
                inside[name] = inside.get(name, 0) + 1
            any_inside += bool(found)
    hits = sorted(
        [DetectorHit(k, "value", c, c / n) for k, c in whole.items()]
        + [DetectorHit(k, "text", c, c / n) for k, c in inside.items()],
        key=lambda h: (-h.count, h.detector, h.how),
    )
    what = ", ".join(sorted({h.detector for h in hits}))
    if n and any_whole / n >= VALUE_SHARE:
        cls = ColumnClass.DIRECT_IDENTIFIER
        reason = f"{_pct(any_whole / n)} of {n} sampled values are identifiers ({what})"
    elif n and any_inside / n >= TEXT_SHARE:
        cls = ColumnClass.DIRECT_IDENTIFIER
        reason = f"free text: {_pct(any_inside / n)} of {n} sampled values contain {what}"
    elif hint is not None:
        cls = hint
        looked = f"; its {n} sampled values are not identifiers a detector knows" if n else ""
        reason = f"its name suggests a {hint.value.replace('_', '-')}{looked}"
    elif any_inside:
        cls = ColumnClass.SENSITIVE
        reason = (
            f"{any_inside} of {n} sampled values contain {what} (under "
            f"{TEXT_SHARE:.0%}); review whether the text holds identifiers"
        )
    else:
        cls = ColumnClass.PUBLIC
        if values is None:
            base = "its type holds no identifiers"
        else:
            base = f"no detector fired on {n} sampled values" if n else "no values to sample"
        reason = f"{base} and its name suggests none; mark it sensitive if it is private"
    return ColumnScan(column, type_, cls, n, tuple(hits), hint, reason)


def proposals(report: ScanReport) -> dict[str, ColumnClass]:
    """The columns a policy should list: every proposal that is not ``public``.

    Columns proposed public are left out, so they keep the dataset's default
    class (``sensitive``) until a person marks them public.
    """
    return {c.column: c.proposed for c in report.columns if c.proposed is not ColumnClass.PUBLIC}


def merge_into_policy(
    text: str | None, dataset: str, classes: dict[str, ColumnClass]
) -> tuple[str, list[str]]:
    """``text`` (a policy file; None: no file) with ``dataset`` private and ``classes`` added.

    Entries already in the file win: a column it lists keeps its class. Comments
    and order survive (a round-trip YAML editor).

    Returns:
        The new text, and the columns it added.

    Raises:
        ValueError: ``text`` is not YAML, or an entry on the way to the columns
            is not a mapping (the caller turns it into `PolicyFileError`).
    """
    import io

    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap
    from ruamel.yaml.error import YAMLError

    yaml = YAML()
    try:
        doc = yaml.load(text) if text and text.strip() else None
    except YAMLError as e:
        raise ValueError(f"it does not parse: {e}") from e
    doc = CommentedMap() if doc is None else doc
    node: Any = doc
    for where, key in (
        ("the file", "datasets"),
        ("datasets", dataset),
        (f"datasets.{dataset}", "columns"),
    ):
        if not isinstance(node, dict):
            raise ValueError(f"{where} must be a mapping, not {type(node).__name__}")
        if node.get(key) is None:
            node[key] = CommentedMap()
        node = node[key]
    if not isinstance(node, dict):
        raise ValueError(f"datasets.{dataset}.columns must be a mapping")
    added = [c for c in classes if c not in node]
    for column in added:
        node[column] = classes[column].value
    out = io.StringIO()
    yaml.dump(doc, out)
    return out.getvalue(), added
