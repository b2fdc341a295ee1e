"""The shipped reader: loads offline from the package (hash-checked) and marks the answer phrase on the seed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from qa.answer.decide import FEATURES, Decision
from qa.atomic import file_sha256
from qa.errors import ModelError
from qa.reader.model import CONFIG, WEIGHTS, ReaderConfig
from qa.reader.read import SHIPPED
from qa.service import QAService

pytestmark = pytest.mark.model


def test_shipped_weights_are_small_and_match_their_hash() -> None:
    cfg = ReaderConfig.read(SHIPPED)
    assert (SHIPPED / WEIGHTS).stat().st_size <= 25 * 2**20
    assert file_sha256(SHIPPED / WEIGHTS) == cfg.sha256
    assert (SHIPPED / "decision.json").is_file() and (SHIPPED / "MODEL_CARD.md").is_file()
    assert not (SHIPPED / "verifier.json").exists()  # the v1 verifier is replaced by the decision
    # trained on the train splits only: the dev split and the held-out Zalo paragraphs measure it
    assert cfg.trained["data"] == ["viquad1_train.json", "zalo2019_train.json"]
    assert cfg.format_version == 2 and cfg.platt[0] > 0
    # the decision was fitted on today's features (a stale one would switch the product to the rules)
    decision = Decision.from_dict(json.loads((SHIPPED / "decision.json").read_text("utf-8")))
    assert decision.weights[FEATURES.index("lacks_number")] != 0.0 and 0 < decision.answer_at < decision.sure_at


def test_damaged_weights_are_refused_with_the_fix(tmp_path: Path, real_service: QAService) -> None:
    from qa.reader.read import reader_for

    bad = tmp_path / "reader"
    shutil.copytree(SHIPPED, bad)
    data = bytearray((bad / WEIGHTS).read_bytes())
    data[-1] ^= 0xFF
    (bad / WEIGHTS).write_bytes(bytes(data))
    with pytest.raises(ModelError, match="checksum mismatch.*qa reader train"):
        reader_for(real_service.encoder, bad)
    cfg = json.loads((bad / CONFIG).read_text("utf-8"))
    (bad / CONFIG).write_text(json.dumps({**cfg, "format_version": 99}), "utf-8")
    with pytest.raises(ModelError, match="reader format 99"):
        reader_for(real_service.encoder, bad)


@pytest.mark.parametrize(
    ("question", "phrase"),
    [
        ("Có bao nhiêu đại biểu dự hội nghị?", "gần 1000"),
        ("Ai chủ trì hội nghị?", "Lê Văn Thành"),
        ("Tổng thu ngân sách năm 2016 đạt bao nhiêu?", "60 nghìn tỷ đồng"),
        ("Hội nghị được tổ chức ở đâu?", "Cung Văn hóa"),
    ],
)
def test_shipped_reader_marks_the_phrase(real_service: QAService, question: str, phrase: str) -> None:
    assert real_service.reader is not None, "the shipped reader did not load"
    ans = real_service.ask(question)
    assert ans.answer is not None and ans.answer.phrase is not None, ans.answer
    p = ans.answer.phrase
    assert phrase in p.text and len(p.text) < len(ans.answer.text)
    doc = real_service.document(ans.passages[0].doc)
    assert doc is not None and doc.text[p.start : p.end] == p.text
    assert ans.answer.start <= p.start and p.end <= ans.answer.end
    marks = [(h.start, h.end) for h in ans.passages[0].highlights if h.label == "phrase"]
    assert (p.start, p.end) in marks
    assert 0.0 < ans.answer.score <= 1.0


def test_a_question_naming_its_subject_from_the_heading_is_answered(tmp_path: Path,
                                                                     real_service: QAService) -> None:
    """The answer sentence does not repeat the heading's subject; the reader reads the heading too."""
    from qa.config import Settings
    from qa.startup import open_service

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "thu-vien.md").write_text(
        "# Thư viện quận Lê Chân\n\nThư viện mở cửa từ 7 giờ 30 đến 17 giờ các ngày trong tuần, trừ thứ Hai. "
        "Phòng đọc có 120 chỗ ngồi và một phòng máy tính. Thủ thư trưởng là bà Phạm Thu Hằng.\n", "utf-8")
    (docs / "cong-vien.md").write_text(
        "# Công viên An Biên\n\nCông viên rộng 5 héc-ta, có hồ nước và sân chơi cho trẻ em. "
        "Ban quản lý công viên do ông Nguyễn Văn Nam phụ trách.\n", "utf-8")
    svc = open_service(Settings(docs, tmp_path / "index", auto_build="missing"), encoder=real_service.encoder,
                       progress=False, log=lambda m: None)
    ans = svc.ask("Thủ thư trưởng thư viện quận Lê Chân là ai?")
    assert ans.answer is not None and ans.answer.phrase is not None, ans
    assert "Phạm Thu Hằng" in ans.answer.phrase.text
    assert ans.passages[0].doc.startswith("thu-vien")
