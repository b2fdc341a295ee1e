"""Find and read documents (.txt .md .html .htm .pdf .docx) into `Document` records.

`Document.text` is the decoded (or, for HTML/PDF/DOCX, extracted) text that every offset refers to;
`Document.spans` are the parts kept by `qa.ingest.cleaning.clean_spans`. For example
`read_document(Path("docs/sub/a.md"), Path("docs")).doc_id == "sub/a.md"`.
"""

from __future__ import annotations

import codecs
import hashlib
import io
import logging
import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from qa.errors import DocumentError, NoDocumentsError
from qa.ingest.cleaning import clean_spans
from qa.lang.sentences import split_sentences
from qa.schema import Document

SUPPORTED = (".txt", ".md", ".html", ".htm", ".pdf", ".docx")
log = logging.getLogger("qa.ingest.documents")

_TITLE_LINE_MAX = 120
_TITLE_SENTENCE_MAX = 100
_MD_H1 = re.compile(r"^#[ \t]+(.+?)[ \t#]*$", re.MULTILINE)
_HEADING_MARK = re.compile(r"^#{1,6}[ \t]+")
_DROP_TAGS = (
    "script", "style", "nav", "header", "footer", "aside", "noscript", "template", "iframe", "svg",
    "canvas", "button", "select", "head",
)  # fmt: skip
_BLOCK_TAGS = frozenset(
    "address article blockquote dd details dialog div dl dt fieldset figcaption figure form h1 h2 h3 h4 "
    "h5 h6 hr li main ol p pre section summary table tbody thead tfoot tr ul caption center".split()
)
# (BOM, codec) pairs; UTF-32 first because its little-endian BOM starts with UTF-16's
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def _squash(s: str) -> str:
    return " ".join(s.split())


def _decode_text(data: bytes, path: Path) -> str:
    for bom, codec in _BOMS:
        if data.startswith(bom):
            try:
                return data[len(bom) :].decode(codec)
            except UnicodeDecodeError as e:
                raise DocumentError(
                    f"{path}: invalid {codec} after its byte-order mark ({e.reason}); "
                    "re-save the file as UTF-8"
                ) from e
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise DocumentError(
            f"{path}: not valid UTF-8 (byte 0x{data[e.start]:02x} at offset {e.start}; maybe cp1258 or "
            "latin-1); re-save the file as UTF-8"
        ) from e
    if "\x00" in text:
        raise DocumentError(
            f"{path}: contains NUL bytes (UTF-16 without a byte-order mark, or a binary "
            "file); re-save the file as UTF-8"
        )
    return text


def _read_html(data: bytes) -> tuple[str, str]:
    from bs4 import BeautifulSoup, NavigableString, Tag
    from bs4.element import PreformattedString

    # valid UTF-8 is taken as such; only other bytes go to BeautifulSoup's charset guessing, which can
    # mistake Vietnamese UTF-8 for a legacy code page
    try:
        markup: str | bytes = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        markup = data
    soup = BeautifulSoup(markup, "html.parser")
    title = ""
    if soup.title is not None:
        title = _squash(soup.title.get_text())
    if not title and (h1 := soup.find("h1")) is not None:
        title = _squash(h1.get_text())
    for tag in soup.find_all(list(_DROP_TAGS)):
        tag.decompose()
    parts: list[str] = []
    # iterative walk: deeply nested pages must not hit the recursion limit
    stack: list[object] = [soup.body or soup]
    while stack:
        node = stack.pop()
        if isinstance(node, str) and not isinstance(node, NavigableString):
            parts.append(node)  # a marker pushed below
        elif isinstance(node, PreformattedString):
            continue  # comments, doctype, CDATA
        elif isinstance(node, NavigableString):
            in_pre = node.find_parent("pre") is not None
            parts.append(str(node).replace("\r", "") if in_pre else re.sub(r"\s+", " ", str(node)))
        elif isinstance(node, Tag):
            if node.name == "br":
                parts.append("\n")
                continue
            block = node.name in _BLOCK_TAGS
            after = "\n\n" if block else (" " if node.name in ("td", "th") else "")
            stack.append(after)
            stack.extend(reversed(list(node.children)))
            if block:
                stack.append("\n\n")
    paragraphs = []
    for para in re.split(r"\n[^\S\n]*\n", "".join(parts)):
        lines = [_squash(line) for line in para.split("\n")]
        if any(lines):
            paragraphs.append("\n".join(line for line in lines if line))
    return "\n\n".join(paragraphs), title


def _reflow(page: str) -> str:
    """Join a PDF's wrapped lines: a line continues when the next one starts lowercase."""
    out: list[str] = []
    for raw in page.splitlines():
        line = raw.strip()
        if not line:
            if out and out[-1] != "":
                out.append("")
            continue
        if out and out[-1] and line[0].islower() and out[-1][-1] not in '.!?:;…"”':
            out[-1] += " " + line
        else:
            out.append(line)
    return re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip()


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextmanager
def library_log_to_ours(name: str, path: Path) -> Iterator[None]:
    """A library's log records while it reads `path` ("invalid pdf header", "EOF marker not found")
    go to this module's logger at DEBUG, naming the file, instead of the terminal; what is wrong with
    a file the caller reports once, as its DocumentError.

    >>> with library_log_to_ours("pypdf", Path("a.pdf")):
    ...     logging.getLogger("pypdf").warning("invalid pdf header")  # printed nowhere
    """
    lib = logging.getLogger(name)
    handler, propagate = _Collect(), lib.propagate
    lib.addHandler(handler)
    lib.propagate = False
    try:
        yield
    finally:
        lib.removeHandler(handler)
        lib.propagate = propagate
        for message in handler.messages:
            log.debug("%s: %s: %s", path, name, message)


def _read_pdf(data: bytes, path: Path) -> tuple[str, str]:
    import pypdf

    with library_log_to_ours("pypdf", path):
        return _parse_pdf(pypdf, data, path)


def _parse_pdf(pypdf: Any, data: bytes, path: Path) -> tuple[str, str]:
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise DocumentError(f"{path}: the PDF is password-protected; save an unprotected copy")
        pages = [_reflow(page.extract_text() or "") for page in reader.pages]
        meta = reader.metadata
        title = _squash(str(meta.title)) if meta is not None and meta.title else ""
    except DocumentError:
        raise
    except Exception as e:  # pypdf raises many types on damaged files; all mean "cannot read"
        raise DocumentError(f"{path}: cannot read the PDF ({type(e).__name__}: {e}); re-export it") from e
    return "\n\n".join(p for p in pages if p), title


def _read_docx(data: bytes, path: Path) -> tuple[str, str]:
    import docx
    from docx.table import Table

    try:
        d = docx.Document(io.BytesIO(data))
        blocks: list[str] = []
        first_style = ""
        for item in d.iter_inner_content():
            if isinstance(item, Table):
                for row in item.rows:
                    cells = list(dict.fromkeys(c.text.strip() for c in row.cells))  # merged cells repeat
                    if any(cells):
                        blocks.append(" | ".join(c for c in cells if c))
            elif item.text.strip():
                if not blocks and item.style is not None:
                    first_style = (item.style.name or "").lower()
                blocks.append(item.text.strip())
        title = _squash(d.core_properties.title or "")
    except Exception as e:  # python-docx / zipfile / lxml errors on damaged files
        raise DocumentError(f"{path}: cannot read the DOCX ({type(e).__name__}: {e}); re-save it") from e
    if not title and blocks and first_style in ("title", "heading 1"):
        title = _squash(blocks[0])
    return "\n\n".join(blocks), title


def _fallback_title(text: str, spans: tuple[tuple[int, int], ...], stem: str) -> str:
    """First kept line if short, else the first sentence shortened, else the file name."""
    if not spans:
        return stem
    a, b = spans[0]
    nl = text.find("\n", a, b)
    line = _squash(_HEADING_MARK.sub("", text[a : b if nl == -1 else nl]))
    if line and len(line) <= _TITLE_LINE_MAX:
        return line
    sents = split_sentences(text, a, b)
    if not sents:
        return stem
    sent = _squash(text[sents[0][0] : sents[0][1]])
    if len(sent) <= _TITLE_SENTENCE_MAX:
        return sent
    cut = sent.rfind(" ", 0, _TITLE_SENTENCE_MAX)
    return sent[: cut if cut > 0 else _TITLE_SENTENCE_MAX].rstrip(" ,;:–-") + "…"


def _doc_id(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        try:
            return path.resolve().relative_to(root.resolve()).as_posix()
        except ValueError as e:
            raise DocumentError(f"{path} is not inside the docs folder {root}; move it there") from e


def read_document(path: Path, root: Path) -> Document:
    """Read one supported file; raises DocumentError naming the file and the fix."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED:
        raise DocumentError(
            f"{path}: unsupported file type {suffix or '(none)'}; use one of {', '.join(SUPPORTED)}"
        )
    doc_id = _doc_id(path, root)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise DocumentError(f"{path}: cannot read ({e.strerror or e}); check the file's permissions") from e
    title = ""
    if suffix in (".txt", ".md"):
        text = _decode_text(data, path)
        if suffix == ".md" and (m := _MD_H1.search(text)):
            title = _squash(m.group(1))
    elif suffix in (".html", ".htm"):
        text, title = _read_html(data)
    elif suffix == ".pdf":
        text, title = _read_pdf(data, path)
    else:
        text, title = _read_docx(data, path)
    spans = clean_spans(text)
    if not spans:
        hint = " (a scanned PDF needs OCR first)" if suffix == ".pdf" else ""
        raise DocumentError(f"{path} is empty: no text left after cleaning{hint}; add text or remove it")
    return Document(
        doc_id=doc_id,
        title=title or _fallback_title(text, spans, path.stem),
        text=text,
        sha256=hashlib.sha256(data).hexdigest(),
        spans=spans,
    )


def find_documents(docs_dir: Path) -> list[Path]:
    """Supported files under docs_dir, recursive, sorted by relative path; hidden files/dirs skipped."""
    found = []
    for dirpath, dirnames, filenames in os.walk(docs_dir):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]  # prune hidden folders in place
        for name in filenames:
            # "~$x.docx" is an Office lock file, not a document
            if not name.startswith((".", "~$")) and Path(name).suffix.lower() in SUPPORTED:
                found.append(Path(dirpath) / name)
    return sorted(found, key=lambda p: p.relative_to(docs_dir).as_posix())


def load_documents(
    docs_dir: Path, on_error: Callable[[Path, DocumentError], None] | None = None
) -> list[Document]:
    """Read every document; a bad file goes to on_error (re-raised when None) and the rest still load.

    With on_error given, the result may be empty when every file was bad (each one was reported).
    """
    if not docs_dir.is_dir():
        raise NoDocumentsError(
            f"docs folder {docs_dir} does not exist or is not a folder; pass --docs DIR or set QA_DOCS_DIR"
        )
    paths = find_documents(docs_dir)
    if not paths:
        raise NoDocumentsError(
            f"no supported documents ({' '.join(SUPPORTED)}) in {docs_dir}; add some, or pass --docs DIR "
            "or set QA_DOCS_DIR"
        )
    docs = []
    for path in paths:
        try:
            docs.append(read_document(path, docs_dir))
        except DocumentError as e:
            if on_error is None:
                raise
            on_error(path, e)
    return docs
