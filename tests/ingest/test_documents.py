"""Document loading: encodings, formats, titles, discovery, and per-file errors."""

from __future__ import annotations

import codecs
import hashlib
import logging
import unicodedata
from pathlib import Path

import pytest

from qa.errors import DocumentError, NoDocumentsError
from qa.ingest.cleaning import clean_spans
from qa.ingest.documents import SUPPORTED, find_documents, load_documents, read_document
from tests.conftest import SEED

VI = "Hải Phòng là thành phố cảng lớn. Năm 2017, thu ngân sách đạt trên 70 nghìn tỷ đồng."
FONT_DIRS = (Path("/usr/share/fonts"), Path("/usr/local/share/fonts"), Path("/Library/Fonts"))


def unicode_font() -> Path | None:
    for d in FONT_DIRS:
        hits = sorted(d.rglob("DejaVuSans.ttf")) if d.is_dir() else []
        if hits:
            return hits[0]
    return None


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("encoded", "name"),
    [
        (VI.encode("utf-8"), "utf8.txt"),
        (codecs.BOM_UTF8 + VI.encode("utf-8"), "utf8sig.txt"),
        (VI.encode("utf-16"), "utf16.txt"),  # Python writes a BOM, little-endian here
        (codecs.BOM_UTF16_LE + VI.encode("utf-16-le"), "utf16le.txt"),
        (codecs.BOM_UTF16_BE + VI.encode("utf-16-be"), "utf16be.txt"),
    ],
)
def test_text_encodings(tmp_path: Path, encoded: bytes, name: str) -> None:
    path = write(tmp_path / "sub" / name, encoded)
    doc = read_document(path, tmp_path)
    assert doc.doc_id == f"sub/{name}"
    assert doc.text == VI
    assert doc.sha256 == hashlib.sha256(encoded).hexdigest()
    assert doc.spans == ((0, len(VI)),)
    assert doc.title == "Hải Phòng là thành phố cảng lớn. Năm 2017, thu ngân sách đạt trên 70 nghìn tỷ đồng."


def test_text_is_kept_exactly_as_decoded(tmp_path: Path) -> None:
    raw = "Print Thứ Bảy, 26/01/2019 16:27\r\n\r\n" + unicodedata.normalize("NFD", VI) + "\r\n"
    doc = read_document(write(tmp_path / "a.txt", raw.encode()), tmp_path)
    assert doc.text == raw  # no NFC, no newline translation, header still in the text
    assert [doc.text[a:b] for a, b in doc.spans] == [unicodedata.normalize("NFD", VI)]


def test_bad_encoding_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path / "cu.txt", "Thành phô Hai Phong".encode("cp1258"))
    with pytest.raises(DocumentError) as err:
        read_document(path, tmp_path)
    assert str(path) in str(err.value)
    assert "not valid UTF-8" in str(err.value) and "re-save the file as UTF-8" in str(err.value)


def test_utf16_without_bom_is_rejected(tmp_path: Path) -> None:
    path = write(tmp_path / "w.txt", "Hai Phong".encode("utf-16-le"))
    with pytest.raises(DocumentError, match="NUL bytes"):
        read_document(path, tmp_path)


def test_markdown_title_from_first_h1(tmp_path: Path) -> None:
    text = "Lời mở đầu ngắn.\n\n# Hà Nội #\n\nHà Nội là thủ đô của Việt Nam.\n\n# Khác\n"
    doc = read_document(write(tmp_path / "hn.md", text.encode()), tmp_path)
    assert doc.title == "Hà Nội"
    assert doc.text == text


def test_title_fallbacks(tmp_path: Path) -> None:
    short = read_document(write(tmp_path / "a.txt", f"Tiêu đề ngắn\n\n{VI}".encode()), tmp_path)
    assert short.title == "Tiêu đề ngắn"
    heading = read_document(write(tmp_path / "b.md", f"## Mục phụ\n\n{VI}".encode()), tmp_path)
    assert heading.title == "Mục phụ"
    seed = read_document(SEED, SEED.parent)
    assert seed.title == (
        "Ngày 15/1, tại Cung Văn hóa – Lao động hữu nghị Việt – Tiệp, Ban Thường vụ Thành ủy tổ chức hội…"
    )
    assert seed.spans == clean_spans(seed.text)
    assert seed.text == SEED.read_text(encoding="utf-8")


HTML = """<!doctype html><html><head><title> Hội nghị  cán bộ </title><style>p{color:red}</style>
<script>var tin = "Tin khác";</script></head>
<body><header><h1>Báo Hải Phòng</h1></header><nav><a href="/">Trang chủ</a></nav>
<article><h1>Hội nghị cán bộ chủ chốt</h1><p>Ngày 15/1, tại <b>Cung Văn hóa</b>,
 Ban Thường vụ   Thành ủy tổ chức hội nghị.</p><!-- ghi chú --><p>Dòng một<br>Dòng hai</p>
<ul><li>Mục một</li><li>Mục hai</li></ul><table><tr><td>Năm</td><td>2018</td></tr></table></article>
<aside>Tin liên quan</aside><noscript>Bật JavaScript</noscript><footer>Bản quyền</footer></body></html>"""


def test_html_visible_text_and_title(tmp_path: Path) -> None:
    doc = read_document(write(tmp_path / "p.html", HTML.encode()), tmp_path)
    assert doc.title == "Hội nghị cán bộ"
    assert doc.text == (
        "Hội nghị cán bộ chủ chốt\n\n"
        "Ngày 15/1, tại Cung Văn hóa, Ban Thường vụ Thành ủy tổ chức hội nghị.\n\n"
        "Dòng một\nDòng hai\n\nMục một\n\nMục hai\n\nNăm 2018"
    )


def test_html_legacy_charset_is_decoded(tmp_path: Path) -> None:
    html = '<html><head><meta charset="windows-1258"></head><body><p>Thành phô Hai Phong</p></body></html>'
    doc = read_document(write(tmp_path / "cu.html", html.encode("cp1258")), tmp_path)
    assert doc.text == "Thành phô Hai Phong"


def test_html_title_from_h1_when_no_title(tmp_path: Path) -> None:
    html = "<html><body><h1>Tiêu đề <i>bài</i></h1><div>Nội dung chính.</div></body></html>"
    doc = read_document(write(tmp_path / "p.htm", html.encode()), tmp_path)
    assert doc.title == "Tiêu đề bài"
    assert doc.text == "Tiêu đề bài\n\nNội dung chính."


def make_pdf(path: Path, title: str, pages: list[str], font: Path | None) -> Path:
    from fpdf import FPDF

    pdf = FPDF()
    if font is not None:
        pdf.add_font("uni", "", str(font))
    pdf.set_title(title)
    for text in pages:
        pdf.add_page()
        if font is not None:
            pdf.set_font("uni", size=12)
        else:
            pdf.set_font("Helvetica", size=12)
        pdf.multi_cell(0, 8, text)
    return write(path, bytes(pdf.output()))


def test_pdf_pages_title_and_wrapped_lines(tmp_path: Path) -> None:
    font = unicode_font()
    if font is not None:
        title = "Báo cáo Hải Phòng"
        page1 = (
            "Hội nghị cán bộ chủ chốt thành phố Hải Phòng được tổ chức tại Cung Văn hóa Lao động hữu nghị "
            "Việt Tiệp với gần 1000 đại biểu tham dự."
        )
        page2 = "Trang hai. Thu ngân sách đạt 70 nghìn tỷ đồng."
    else:  # no Unicode TTF on this machine: the core font only covers Latin-1
        title = "Hai Phong report"
        page1 = (
            "The conference of key officials of Hai Phong city was held at the Viet Tiep labour culture "
            "palace with almost 1000 delegates attending the meeting."
        )
        page2 = "Page two. The budget reached 70 trillion dong."
    path = make_pdf(tmp_path / "r.pdf", title, [page1, page2], font)
    doc = read_document(path, tmp_path)
    assert doc.title == title
    assert doc.text == f"{page1}\n\n{page2}"  # the line wrapped by the PDF is joined back
    assert doc.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_pdf_damaged_and_empty(tmp_path: Path) -> None:
    bad = write(tmp_path / "bad.pdf", b"%PDF-1.4 this is not really a pdf")
    with pytest.raises(DocumentError, match="bad.pdf: cannot read the PDF"):
        read_document(bad, tmp_path)
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    blank = write(tmp_path / "blank.pdf", bytes(pdf.output()))
    with pytest.raises(DocumentError, match=r"blank.pdf is empty.*OCR"):
        read_document(blank, tmp_path)


def make_docx(path: Path, paragraphs: list[tuple[str, str]], core_title: str = "") -> Path:
    import docx

    d = docx.Document()
    d.core_properties.title = core_title
    for style, text in paragraphs:
        d.add_paragraph(text, style=style)
    table = d.add_table(rows=1, cols=2)
    table.cell(0, 0).text = "Năm"
    table.cell(0, 1).text = "2018"
    d.save(str(path))
    return path


def test_docx_paragraphs_table_and_title(tmp_path: Path) -> None:
    path = make_docx(
        tmp_path / "d.docx",
        [
            ("Title", "Hội nghị cán bộ"),
            ("Normal", "Đoạn một có TP. Hải Phòng."),
            ("Normal", ""),
            ("Normal", VI),
        ],
    )
    doc = read_document(path, tmp_path)
    assert doc.title == "Hội nghị cán bộ"
    assert doc.text == f"Hội nghị cán bộ\n\nĐoạn một có TP. Hải Phòng.\n\n{VI}\n\nNăm | 2018"


def test_docx_title_sources(tmp_path: Path) -> None:
    core = make_docx(
        tmp_path / "a.docx", [("Heading 1", "Tiêu đề một"), ("Normal", VI)], core_title="Từ thuộc tính"
    )
    assert read_document(core, tmp_path).title == "Từ thuộc tính"
    h1 = make_docx(tmp_path / "b.docx", [("Heading 1", "Tiêu đề một"), ("Normal", VI)])
    assert read_document(h1, tmp_path).title == "Tiêu đề một"
    plain = make_docx(tmp_path / "c.docx", [("Normal", "Dòng đầu ngắn"), ("Normal", VI)])
    assert read_document(plain, tmp_path).title == "Dòng đầu ngắn"  # the fallback: first short line


def test_docx_damaged(tmp_path: Path) -> None:
    bad = write(tmp_path / "bad.docx", b"PK\x03\x04 not a zip")
    with pytest.raises(DocumentError, match="bad.docx: cannot read the DOCX"):
        read_document(bad, tmp_path)


def test_empty_and_unsupported(tmp_path: Path) -> None:
    with pytest.raises(DocumentError, match=r"e.txt is empty"):
        read_document(write(tmp_path / "e.txt", b""), tmp_path)
    with pytest.raises(DocumentError, match=r"f.md is empty"):
        read_document(write(tmp_path / "f.md", b"\n  \n\t\n"), tmp_path)
    with pytest.raises(DocumentError, match=r"g.rtf: unsupported file type .rtf"):
        read_document(write(tmp_path / "g.rtf", b"x"), tmp_path)
    with pytest.raises(DocumentError, match="not inside the docs folder"):
        read_document(write(tmp_path / "out" / "h.txt", b"x"), tmp_path / "docs")


def test_find_documents_recursive_sorted_skips_hidden(tmp_path: Path) -> None:
    for rel in (
        "b.txt", "a/z.md", "a/y.HTML", "c.pdf", "d.docx", "e.htm", "notes.rtf", "img.png",
        ".hidden.txt", ".git/x.txt", "a/.cache/y.txt", "~$lock.docx",
    ):  # fmt: skip
        write(tmp_path / rel, b"x")
    found = [p.relative_to(tmp_path).as_posix() for p in find_documents(tmp_path)]
    assert found == ["a/y.HTML", "a/z.md", "b.txt", "c.pdf", "d.docx", "e.htm"]
    assert SUPPORTED == (".txt", ".md", ".html", ".htm", ".pdf", ".docx")


def test_load_documents_small_corpus(small_docs: Path) -> None:
    docs = load_documents(small_docs)
    assert [(d.doc_id, d.title) for d in docs] == [
        (  # the first line is short enough (<= 120 characters) to be the title
            "haiphong.txt",
            "Hải Phòng là thành phố cảng lớn ở miền Bắc Việt Nam. "
            "Thành phố có cảng biển quan trọng và ngành công nghiệp phát triển.",
        ),
        ("hanoi.md", "Hà Nội"),
        ("hue.txt", "Huế là cố đô của Việt Nam. Sông Hương chảy qua thành phố Huế."),
    ]


def test_one_bad_file_does_not_stop_the_others(small_docs: Path) -> None:
    bad = write(small_docs / "cu.txt", "Thành phô Hai Phong".encode("cp1258"))
    errors: list[tuple[Path, DocumentError]] = []
    docs = load_documents(small_docs, on_error=lambda p, e: errors.append((p, e)))
    assert [d.doc_id for d in docs] == ["haiphong.txt", "hanoi.md", "hue.txt"]
    assert [p for p, _ in errors] == [bad]
    assert str(bad) in str(errors[0][1])
    with pytest.raises(DocumentError, match="cu.txt: not valid UTF-8"):
        load_documents(small_docs)


def test_load_documents_folder_errors(tmp_path: Path) -> None:
    with pytest.raises(NoDocumentsError) as err:
        load_documents(tmp_path / "missing")
    assert str(tmp_path / "missing") in str(err.value)
    assert "--docs DIR" in str(err.value) and "QA_DOCS_DIR" in str(err.value)
    (tmp_path / "empty").mkdir()
    write(tmp_path / "empty" / "x.png", b"x")
    with pytest.raises(NoDocumentsError, match="no supported documents"):
        load_documents(tmp_path / "empty")
    write(tmp_path / "bad" / "only.txt", b"\xff\xfe\xfd")
    seen: list[Path] = []
    assert load_documents(tmp_path / "bad", on_error=lambda p, e: seen.append(p)) == []
    assert seen == [tmp_path / "bad" / "only.txt"]


def test_pypdf_warnings_go_to_the_log_not_the_terminal(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                       caplog: pytest.LogCaptureFixture) -> None:
    bad = tmp_path / "random.pdf"
    bad.write_bytes(b"\x07=\xdc!_" + bytes(range(256)) * 8)
    with caplog.at_level(logging.DEBUG), pytest.raises(DocumentError):
        read_document(bad, tmp_path)
    assert not [r for r in caplog.records if r.name == "pypdf"]  # nothing reaches the root handlers
    assert "invalid pdf header" not in capsys.readouterr().err
    assert any("random.pdf: pypdf: invalid pdf header" in r.getMessage() for r in caplog.records)
