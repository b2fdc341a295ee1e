"""Casual shorthand: a general table, and ambiguous abbreviations chosen by the indexed documents."""

from __future__ import annotations

import pytest

from qa.index.engines.lexical import CorpusTerms, LexicalIndex
from qa.index.engines.sparse import TermVocabulary
from qa.lang.shorthand import AMBIGUOUS, COMMON, abbreviate, expand

HANOI = ["Hà Nội là thủ đô của Việt Nam.", "Dân số Hà Nội khoảng 8,5 triệu người.",
         "Năm 2019 Hà Nội đón một hội nghị thượng đỉnh."]
SEED_LIKE = ["Hội nghị cán bộ chủ chốt thành phố Hải Phòng.", "Hội nghị diễn ra ngày 15/1.",
             "Thu ngân sách năm 2017 đạt 70 nghìn tỷ đồng."]
COMPANY = ["Công ty Ánh Dương được thành lập năm 2005 tại Đà Nẵng.", "Giám đốc công ty là bà Trần Thu Hà.",
           "Phòng nhân sự của công ty do ông Lê Minh Quân phụ trách.",
           "Chủ tịch Ủy ban nhân dân huyện là ông Phạm Văn Long."]


def expand_in(corpus: list[str], question: str) -> str:
    lx = LexicalIndex.build(corpus)
    return expand(question, CorpusTerms.build(corpus).vocab, lx.phrase_count)


@pytest.mark.parametrize(("question", "want"), [
    ("giam doc cty la ai", "giam doc công ty la ai"),  # the README's example
    ("cty có chi nhánh ở huế ko", "công ty có chi nhánh ở huế không"),
    ("sđt của bv là j", "số điện thoại của bệnh viện là gì"),
    ("sv đc nghỉ bn ngày", "sinh viên được nghỉ bao nhiêu ngày"),
    ("làm thủ tục ntn", "làm thủ tục như thế nào"),
    ("ctich ubnd tp la ai", "chủ tịch ủy ban nhân dân thành phố la ai"),
])
def test_common_chat_abbreviations_are_spelled_out_anywhere(question: str, want: str) -> None:
    assert expand(question, frozenset()) == want


def test_an_ambiguous_abbreviation_becomes_the_phrase_the_documents_use_most() -> None:
    assert expand_in(HANOI, "dân số hn bn") == "dân số hà nội bao nhiêu"
    assert expand_in(SEED_LIKE, "hn ngày mấy") == "hội nghị ngày mấy"
    assert expand_in(SEED_LIKE, "thu ns 2017 bn") == "thu ngân sách 2017 bao nhiêu"
    assert expand_in(COMPANY, "ai phụ trách phòng ns") == "ai phụ trách phòng nhân sự"
    assert expand_in(SEED_LIKE, "hp ở đâu") == "hải phòng ở đâu"


def test_a_candidate_that_joins_its_neighbour_as_the_documents_write_it_wins() -> None:
    # "công ty" is the more frequent phrase here, but only "chủ tịch" is followed by "ủy ban"
    assert expand_in(COMPANY, "ct ubnd huyện là ai") == "chủ tịch ủy ban nhân dân huyện là ai"
    assert expand_in(COMPANY, "ct thành lập năm nào") == "công ty thành lập năm nào"


def test_an_ambiguous_abbreviation_the_documents_cannot_resolve_stays_as_typed() -> None:
    assert expand_in(COMPANY, "hn có gì") == "hn có gì"
    assert expand("hn có gì", frozenset()) == "hn có gì"


def test_an_abbreviation_the_documents_use_is_kept_verbatim() -> None:
    corpus = ["Văn bản của UBND và HĐND thành phố.", "Hà Nội đông dân."]
    assert expand_in(corpus, "ubnd hn") == "ubnd hà nội"
    assert expand("NQ 18 TW nói về cái j", vocab={"tw"}) == "nghị quyết 18 TW nói về cái gì"


def test_engine_backends_choose_by_presence_in_table_order() -> None:
    vocab = TermVocabulary.build(SEED_LIKE)
    assert expand("hn ngày mấy", frozenset(), vocab.phrase_count) == "hội nghị ngày mấy"  # no "hà nội" there
    both = TermVocabulary.build(HANOI + SEED_LIKE)
    assert expand("hn ngày mấy", frozenset(), both.phrase_count) == "hà nội ngày mấy"  # a tie: table order


def test_no_seed_article_wording_in_the_tables() -> None:
    # the seed article's own readings are not everyday meanings: "nd" is not "nội địa", "hn" is not
    # only "hội nghị"
    assert "nội địa" not in AMBIGUOUS["nd"] and AMBIGUOUS["hn"][0] == "hà nội"
    assert not {"hn", "hp", "ns", "nd", "ct", "bt", "kt", "cn", "kh", "cb"} & set(COMMON)
    assert all(len(v) >= 1 and all(len(c.split()) >= 2 for c in v) for v in AMBIGUOUS.values())


def test_abbreviate_writes_what_expand_reads_back() -> None:
    # training variants for the learned ranking: chat shorthand that the query side spells out again
    casual = abbreviate("Công ty có bao nhiêu người như thế nào?", lambda options: options[0])
    assert casual == "cty có bn ng ntn"
    assert expand(casual, vocab=set()) == "công ty có bao nhiêu người như thế nào"
    assert abbreviate("Ai chủ trì?", lambda options: options[0]) == "Ai chủ trì?"  # nothing to shorten
