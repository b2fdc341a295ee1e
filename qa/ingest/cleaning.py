"""Find the parts of a document worth indexing; everything is returned as offsets, never rewritten.

Three general rules, tuned on news pages saved as text:
  1. a print/page header at the very top ("Print Thứ Bảy, 26/01/2019 16:27", "In bài", "Bản in");
  2. site furniture after the end of the article ("Tiện ích thông tin", "QR Code", "Tin khác", ...);
  3. photo captions and headings repeated verbatim on adjacent lines: one copy is kept.

>>> text = "In bài\\n\\nHải Phòng.\\n\\nTin khác\\nChia sẻ"
>>> [text[a:b] for a, b in clean_spans(text)]
['Hải Phòng.']
"""

from __future__ import annotations

import re

from qa.lang.text import nfc, normalize, trim_span

Span = tuple[int, int]

# --- rule 1: print header ----------------------------------------------------------------------
_PRINT_WORD = r"(?:print(?:er[- ]friendly)?|bản\s+(?:để\s+)?in|in\s+(?:bài(?:\s+viết)?|trang|tin)|in)"
_WEEKDAY = (
    r"thứ\s+(?:hai|ba|tư|năm|sáu|bảy|bẩy|[2-7])|chủ\s+nhật|cn|t[2-7]"
    r"|mon(?:day)?|tue(?:sday)?|wed(?:nesday)?|thu(?:rsday)?|fri(?:day)?|sat(?:urday)?|sun(?:day)?"
)
# Dates and times are read as numbers and separators, one token each way ("26" "/" "01" ...): a single
# parse per line, so a hostile line cannot make the regex backtrack exponentially.
_DATE_BIT = rf"(?:(?:{_WEEKDAY}|\d{{1,4}}|ngày|tháng|năm|lúc|giờ|am|pm|sa|ch|gmt)(?!\w)|[,|()\-–—:/.+])"
_PRINT_HEADER = re.compile(rf"{_PRINT_WORD}\b(?:\s*{_DATE_BIT})*\s*", re.IGNORECASE)
_HEADER_MAX = 80  # a header is a short line; anything longer is article text
_HEADER_LINES = 3  # only the first few lines of a page can be its print header

# --- rule 2: trailing site furniture -------------------------------------------------------------
_FURNITURE_EXACT = frozenset(
    normalize(s)
    for s in (
        "tiện ích thông tin|nguồn tin|qr code|mã qr|tin khác|các tin khác|tin liên quan|bài viết liên quan|"
        "bài liên quan|tin cùng chuyên mục|tin mới|tin mới nhất|tin nổi bật|xem thêm|đọc thêm|chia sẻ|"
        "chia sẻ bài viết|bình luận|ý kiến bạn đọc|gửi bình luận|gửi ý kiến|in bài|bản in|gửi bài|"
        "lên đầu trang|về đầu trang|từ khóa|tags|tag|share|like|tweet|theo dõi chúng tôi|"
        "chúng tôi trên mạng xã hội|facebook|zalo|twitter|youtube|email|quay lại|trở về"
    ).split("|")
)
_FURNITURE_PREFIX = re.compile(
    r"(?:qr\s*code\b|mã\s+qr\b|từ\s+khóa\s*:|tags?\s*:|chia\s+sẻ\s*:|tin\s+liên\s+quan\s*:|xem\s+thêm\s*:)"
)
_SOCIAL = re.compile(r"\b(?:facebook|fanpage|zalo|twitter|youtube|tiktok|instagram|linkedin|mạng xã hội)\b")
_SOCIAL_MAX = 100
_TAIL_LINE_MAX = 200  # furniture and the short lines around it; article paragraphs are longer

# --- rule 3: repeated captions -------------------------------------------------------------------
_CAPTION_MAX = 250
_CREDIT = re.compile(r"(?:^|[\s.])(?:ảnh|photo|nguồn\s+ảnh)(?:\s+minh\s+h[oọ]ạ?)?\s*:\s*[^:\n]{1,60}$", re.I)


def _lines(text: str) -> list[Span]:
    """Every line as trimmed (start, end); a blank line has start == end."""
    out = []
    pos = 0
    while pos <= len(text):
        nl = text.find("\n", pos)
        stop = len(text) if nl == -1 else nl
        out.append(trim_span(text, pos, stop))
        if nl == -1:
            break
        pos = nl + 1
    return out


# All rules below read NFC lines, so lengths and patterns are the same for decomposed (NFD) input.


def _is_print_header(line: str) -> bool:
    return len(line) <= _HEADER_MAX and _PRINT_HEADER.fullmatch(line) is not None


def _furniture_key(line: str) -> str:
    return " ".join(normalize(line).rstrip(" :.").split())


def _is_furniture(line: str) -> bool:
    if len(line) > _TAIL_LINE_MAX:
        return False
    key = _furniture_key(line)
    if key in _FURNITURE_EXACT or _FURNITURE_PREFIX.match(key):
        return True
    return len(line) <= _SOCIAL_MAX and _SOCIAL.search(key) is not None


def _footer_start(lines: list[str], first: int) -> int | None:
    """Index into the non-blank `lines` where trailing furniture begins, or None.

    The footer starts after the article's first line (`lines[first]`), so a short page is never
    removed whole.
    """
    region = len(lines)
    while region > first + 1 and len(lines[region - 1]) <= _TAIL_LINE_MAX:
        region -= 1
    flags = [_is_furniture(line) for line in lines[region:]]
    for k, flag in enumerate(flags):
        rest = flags[k:]
        # two or more furniture lines, at least half of what follows: a lone "Tin khác" in a
        # heading or a short closing line is not enough to cut the article
        if flag and sum(rest) >= 2 and 2 * sum(rest) >= len(rest):
            return region + k
    if flags and flags[-1] and _furniture_key(lines[-1]) in _FURNITURE_EXACT:
        return len(lines) - 1  # one unmistakable furniture line closing the page
    return None


def _caption_key(line: str) -> str:
    bare = _CREDIT.sub("", line)
    if len(bare.strip(" .")) >= 10:  # never reduce a line to nothing: "Ảnh: A" and "Ảnh: B" differ
        line = bare
    line = " ".join(line.split()).rstrip(" .")
    return line[:1].lower() + line[1:]


def _duplicates(a: str, b: str) -> bool:
    if a == b:
        return True
    return len(a) <= _CAPTION_MAX and len(b) <= _CAPTION_MAX and _caption_key(a) == _caption_key(b)


def _messiness(line: str) -> tuple[bool, bool]:
    """Lower is cleaner: no tab runs or double spaces, then an uppercase first letter."""
    return ("\t" in line or "  " in line, line[:1].islower())


def _dropped_lines(text: str, lines: list[Span]) -> set[int]:
    """Indexes into `lines` of the lines to remove."""
    idx = [i for i, (a, b) in enumerate(lines) if a < b]
    content = [nfc(text[slice(*lines[i])]) for i in idx]
    drop: set[int] = set()  # positions in idx
    for k in range(min(_HEADER_LINES, len(idx))):
        if not _is_print_header(content[k]):
            break
        drop.add(k)
    start = _footer_start(content, len(drop))
    if start is not None:
        drop.update(range(start, len(idx)))
    prev: int | None = None
    for k in range(len(idx)):
        if k in drop:
            continue
        if prev is not None and _duplicates(content[prev], content[k]):
            if _messiness(content[k]) < _messiness(content[prev]):
                drop.add(prev)
                prev = k
            else:
                drop.add(k)
            continue
        prev = k
    return {idx[k] for k in drop}


def clean_spans(text: str) -> tuple[Span, ...]:
    """Kept blocks (paragraphs, trimmed) in document offsets, in order: `clean_spans(" a ") == ((1, 2),)`."""
    lines = _lines(text)
    drop = _dropped_lines(text, lines)
    spans: list[Span] = []
    block: Span | None = None
    for i, (a, b) in enumerate(lines):
        if a == b or i in drop:  # a blank or removed line closes the block
            if block:
                spans.append(block)
            block = None
        elif block is None:
            block = (a, b)
        else:
            block = (block[0], b)
    if block:
        spans.append(block)
    return tuple(spans)


def removed_spans(text: str) -> tuple[Span, ...]:
    """The removed lines (trimmed), in order: what `clean_spans` leaves out besides whitespace."""
    lines = _lines(text)
    return tuple(lines[i] for i in sorted(_dropped_lines(text, lines)))
