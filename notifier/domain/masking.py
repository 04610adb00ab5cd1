"""Masking of personal contact data for logs and for roles that may not see it (DESIGN §6).

Phone numbers keep the country code and the last two digits (`+3247*****56`): enough for an
operator to tell two numbers apart, not enough to call anyone. Email addresses keep the first
letter and the domain (`j***@example.org`).

Rules:

* Masking runs on every log value, every viewer's view and every viewer's report, and the text
  comes from outside (alert fields, SMS replies, webhook forms). It is therefore linear in the
  length of the text: no pattern here may try a long stretch once per starting position.
  An address can only start where a run of address characters starts (a lookbehind refuses every
  position inside a run), and the runs are matched possessively (`++`), so every character is
  looked at a bounded number of times whatever the text (10 MB in well under a second).
* Numbers written with `+` and the country code are masked everywhere (logs and views).
* For viewers, numbers written the national way (`0470 300 001`) or with the international call
  prefix (`0032470300001`) are masked too (`mask_national`): phonenumbers' metadata of the
  organisation's region says which prefixes and lengths make a number, and the national number
  must match the country's number pattern, so dates and references are left alone.
"""

from __future__ import annotations

import re
from functools import lru_cache

from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, PhoneMetadata

# Plan numbers are E.164, so a leading + tells a number from a date such as 2026-03-02; spaces and
# punctuation are allowed because free text (a reason, a report, a reply) may write "+32 471 23 45 56".
# Linear: it starts only at a "+", and the stretch after one "+" cannot contain another.
PHONE_IN_TEXT = re.compile(r"\+\d[\d\s().\-]{5,}\d")
_EMAIL_CHAR = r"[^@\s<>\"'(),;:]"
# Starts only where a run of address characters starts (never inside one), possessive runs.
EMAIL_IN_TEXT = re.compile(rf"(?<!{_EMAIL_CHAR}){_EMAIL_CHAR}++@{_EMAIL_CHAR}++")
_NON_DIGIT = re.compile(r"\D+")


def mask_phone(number: str) -> str:
    digits = number.lstrip("+")
    if len(digits) <= 4:
        return "+" + "*" * len(digits)
    keep_head = min(4, len(digits) - 4)
    return "+" + digits[:keep_head] + "*" * (len(digits) - keep_head - 2) + digits[-2:]


def mask_email(address: str) -> str:
    local, _, domain = address.partition("@")
    return (local[:1] or "*") + "***@" + domain


def mask_address(address: str) -> str:
    """Mask a phone number or an email address; anything else is returned unchanged."""
    if "@" in address:
        return mask_email(address)
    if address.startswith("+"):
        return mask_phone(address)
    return address


def _masked_phone_match(match: re.Match[str]) -> str:
    return mask_phone("+" + _NON_DIGIT.sub("", match.group(0)))


def mask_text(text: str) -> str:
    """Mask every phone number (written with +) and email address inside free text (log lines,
    errors). Linear in `len(text)`; text without "@" or "+" is returned as it is."""
    if "@" in text:
        text = EMAIL_IN_TEXT.sub(lambda m: mask_email(m.group(0)), text)
    if "+" in text:
        text = PHONE_IN_TEXT.sub(_masked_phone_match, text)
    return text


# --- numbers without "+": national (0470 300 001) and call-prefix (0032470300001) forms ----------

#: groups of digits tried together (0470 30 00 01 is four) and the most digits a number has
_MAX_GROUPS = 6
_MAX_DIGITS = 17  # call prefix (up to 4) + E.164's 15, minus the shortest country code
_MIN_DIGITS = 8  # shorter runs starting with 0 are references and times, not numbers to hide
_GROUP = re.compile(r"[^ ]++")


@lru_cache(maxsize=16)
def _firsts(region: str) -> str:
    """The first digits of the region's national and international call prefixes ("0" in Belgium)."""
    meta = PhoneMetadata.metadata_for_region(region)
    if meta is None:
        return ""
    prefixes = (meta.national_prefix or "", meta.international_prefix or "")
    return "".join(sorted({p[0] for p in prefixes if p[:1].isdigit()}))


@lru_cache(maxsize=16)
def _candidates(region: str) -> re.Pattern[str] | None:
    """Where a number dialled in `region` may start: the first digit of its national or call
    prefix, at the start of a word, then at most `_MAX_GROUPS` digit groups (bounded, possessive:
    the regex engine never goes back over what it matched)."""
    meta = PhoneMetadata.metadata_for_region(region)
    if meta is None:
        return None
    first = _firsts(region)
    if not first:
        return None
    return re.compile(
        rf"\(?+[{first}](?<![\w+*][{first}])(?<![\w+*]\([{first}])"
        rf"(?=(?:[ ().\-/]{{0,2}}+\d){{{_MIN_DIGITS - 1}}})"
        rf"\d*+(?:[ ().\-/]{{1,2}}+\d++){{0,{_MAX_GROUPS - 1}}}+"
    )


@lru_cache(maxsize=256)
def _national_number(country_code: int, national: str) -> bool:
    """Rule: a national number is one if its length is possible and it matches the number pattern
    of one of the regions sharing `country_code` (phonenumbers metadata)."""
    for region in COUNTRY_CODE_TO_REGION_CODE.get(country_code, ()):
        meta = PhoneMetadata.metadata_for_region(region)
        desc = meta.general_desc if meta is not None else None
        if desc is None or desc.national_number_pattern is None:
            continue
        if len(national) in (desc.possible_length or ()) and re.fullmatch(
            desc.national_number_pattern, national
        ):
            return True
    return False


@lru_cache(maxsize=16)
def _idd(region: str) -> re.Pattern[str]:
    meta = PhoneMetadata.metadata_for_region(region)
    return re.compile((meta.international_prefix if meta else None) or "(?!)")


def _e164(digits: str, region: str) -> str | None:
    """The E.164 form of `digits` dialled in `region`, or None when they are not a phone number.

    Rule: with the region's international call prefix (00 in Europe, 011 in North America) the
    country code follows; with its national prefix (0 in Belgium) the national number follows.
    """
    if not _MIN_DIGITS <= len(digits) <= _MAX_DIGITS:
        return None
    meta = PhoneMetadata.metadata_for_region(region)
    if meta is None:
        return None
    idd = _idd(region).match(digits)
    if idd is not None and idd.end() > 0:
        rest = digits[idd.end() :]
        for size in (1, 2, 3):
            code = int(rest[:size]) if rest[:size] else 0
            if code in COUNTRY_CODE_TO_REGION_CODE and _national_number(code, rest[size:]):
                return "+" + rest
        return None
    prefix = meta.national_prefix or ""
    if prefix and digits.startswith(prefix):
        national = digits[len(prefix) :]
        if meta.country_code is not None and _national_number(meta.country_code, national):
            return f"+{meta.country_code}{national}"
    return None


@lru_cache(maxsize=4096)
def _mask_candidate(run: str, region: str) -> str:
    """Mask the numbers inside one candidate: from each group, the longest stretch of groups that
    is a number (at most `_MAX_GROUPS` groups, so bounded work per candidate; the same number
    written again is looked up once)."""
    if len(_NON_DIGIT.sub("", run)) < _MIN_DIGITS:
        return run
    groups = [(m.start(), m.end()) for m in _GROUP.finditer(run)]
    pieces: list[str] = []
    done = 0
    i = 0
    while i < len(groups):
        digits = ""
        found: tuple[int, str] | None = None
        for j in range(i, len(groups)):
            digits += _NON_DIGIT.sub("", run[groups[j][0] : groups[j][1]])
            if len(digits) > _MAX_DIGITS:
                break
            e164 = _e164(digits, region)
            if e164 is not None:
                found = (j, e164)
        if found is None:
            i += 1
            continue
        j, e164 = found
        end = groups[j][0] + len(run[groups[j][0] : groups[j][1]].rstrip(").-/"))
        pieces += [run[done : groups[i][0]], mask_phone(e164)]
        done = end
        i = j + 1
    return "".join(pieces) + run[done:] if pieces else run


def mask_national(text: str, region: str | None) -> str:
    """Mask numbers written without + (national or international-call-prefix form) as dialled in
    `region` (ISO 3166 code, e.g. BE); unchanged when there is no region. Linear in `len(text)`."""
    candidates = _candidates(region) if region else None
    if candidates is None or region is None or not any(d in text for d in _firsts(region)):
        return text
    return candidates.sub(lambda m: _mask_candidate(m.group(0), region), text)


#: a place where text may be cut without cutting an address or a number: after a whitespace that
#: no number continues across (numbers go on only with digits, spaces and ( ) . - +)
_SAFE_CUT = re.compile(r"\s(?=[^\d\s().\-+])")
#: long text is masked piece by piece, so a worker thread masking a large report gives the event
#: loop its turn between pieces (the regex engine holds the GIL for one whole scan)
PIECE_CHARS = 65_536


def pieces(text: str, size: int = PIECE_CHARS) -> list[str]:
    """`text` cut into pieces of about `size` characters at places no address or number spans."""
    out: list[str] = []
    start = 0
    while len(text) - start > size:
        cut = _SAFE_CUT.search(text, start + size)
        if cut is None:
            break
        out.append(text[start : cut.end()])
        start = cut.end()
    out.append(text[start:])
    return out


def mask_for_viewer(text: str, region: str | None) -> str:
    """Everything a viewer may not see in free text: addresses, numbers with + and without.
    Long text is masked in pieces (`pieces`), with the same result."""
    if len(text) <= PIECE_CHARS:
        return mask_national(mask_text(text), region)
    return "".join(mask_national(mask_text(piece), region) for piece in pieces(text))
