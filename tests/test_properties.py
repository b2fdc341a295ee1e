"""Property-based: whatever a chat box receives, `ask` answers with consistent offsets or an InputError."""

from __future__ import annotations

import json
import math
import unicodedata
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from qa.answer.answerer import AnswerParams
from qa.errors import InputError
from qa.lang.text import fold, tokenize
from qa.schema import Answer
from qa.search.inputs import clean_question
from qa.service import QAService
from qa.startup import open_service
from tests.conftest import SEED, FakeEncoder, seed_service

pytestmark = pytest.mark.slow

# database=None: never write .hypothesis/ into the repository
PROPS = settings(max_examples=1000, deadline=None, database=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.fixture(scope="module")
def svc(tmp_path_factory: pytest.TempPathFactory) -> QAService:
    return seed_service(tmp_path_factory.mktemp("props"))


_SEED_TEXT = SEED.read_text(encoding="utf-8")
SYLLABLES = sorted({_SEED_TEXT[t.start : t.end] for t in tokenize(_SEED_TEXT)})
HTML = ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "</mark>", "<mark>", "&lt;b&gt;",
        "&amp;", "<a href='javascript:alert(1)'>x</a>", "{{7*7}}", "${jndi:ldap://x}", "'; DROP TABLE x;--",
        "../../etc/passwd", "%00", "\\n", "```"]
EMOJI = ["👍", "👍🏽", "👨\u200d👩\u200d👧", "🇻🇳", "❤️", "🙂", "\U0001f9d1\u200d\U0001f4bb"]
OTHER = ["ما هي", "עברית", "越南", "ハノイ", "?", "!", "…", "–", "\u200b", "\u202e", "\x00", "\t", "\n",
         "\ufeff"]
SEQS = ["hội nghị", "thành phố", "Hải Phòng", "bí thư", "Lê Văn Thành", "năm 2018", "HĐND", "UBND"]

tokens = st.one_of(
    st.sampled_from(SYLLABLES), st.sampled_from(SEQS), st.sampled_from(HTML), st.sampled_from(EMOJI),
    st.sampled_from(OTHER), st.text(max_size=4),
)
forms = st.sampled_from([
    lambda s: s,
    lambda s: unicodedata.normalize("NFD", s),
    lambda s: fold(s),  # typed without diacritics: exercises diacritic restoration
    str.upper,
    str.lower,
])
separators = st.sampled_from([" ", "", "  ", "\n", " - "])
mixed_questions = st.builds(lambda parts, sep, form: form(sep.join(parts)), st.lists(tokens, max_size=25),
                            separators, forms)
any_unicode = st.text(st.characters(exclude_categories=()))  # includes lone surrogates and controls


def check(svc: QAService, question: str, top_k: int = 5) -> None:
    """The invariants every answer must hold."""
    try:
        expected_question = clean_question(question)
    except InputError as e:
        with pytest.raises(InputError) as ei:
            svc.ask(question, top_k=top_k)
        assert str(ei.value) == str(e)
        assert ei.value.message_vi.strip()
        return
    ans = svc.ask(question, top_k=top_k)
    assert isinstance(ans, Answer)
    assert ans.question == expected_question
    assert math.isfinite(ans.confidence)
    assert len(ans.passages) <= top_k
    seen: set[tuple[str, int, int]] = set()
    for p in ans.passages:
        doc = svc.document(p.doc)
        assert doc is not None
        assert 0 <= p.start < p.end <= len(doc.text)
        assert doc.text[p.start : p.end] == p.text
        assert math.isfinite(p.score)
        assert (p.doc, p.start, p.end) not in seen
        seen.add((p.doc, p.start, p.end))
        for h in p.highlights:
            assert p.start <= h.start < h.end <= p.end
            assert h.label in ("answer", "term")
    if ans.answer is not None:
        a = ans.answer
        doc = svc.document(a.doc)
        assert doc is not None
        assert 0 <= a.start < a.end <= len(doc.text)
        assert doc.text[a.start : a.end] == a.text
        assert math.isfinite(a.score)
        if top_k >= AnswerParams().passages_considered:
            # the answer comes from a shown passage, which highlights it
            holders = [p for p in ans.passages if p.doc == a.doc and p.start <= a.start and a.end <= p.end]
            assert holders
            assert any(h.label == "answer" for h in holders[0].highlights)
    json.dumps(ans.to_dict(), ensure_ascii=False).encode("utf-8")


@PROPS
@given(question=any_unicode)
@example(question="\u0300")  # a lone combining mark: its folded form is "" (bm25s crashed on it)
@example(question="Hà Nội \u0301?")
def test_any_unicode_text(svc: QAService, question: str) -> None:
    check(svc, question)


@PROPS
@given(question=mixed_questions, top_k=st.integers(1, 50))
def test_vietnamese_html_emoji_mix(svc: QAService, question: str, top_k: int) -> None:
    check(svc, question, top_k)


@settings(max_examples=50, deadline=None, database=None)
@given(question=st.lists(st.sampled_from(SYLLABLES), min_size=150, max_size=400).map(" ".join))
def test_near_the_length_limit(svc: QAService, question: str) -> None:
    check(svc, question)


def test_concurrent_asks_match_serial(svc: QAService) -> None:
    """One service shared by many threads gives each caller exactly the serial answer."""
    from concurrent.futures import ThreadPoolExecutor

    qs = [f"{s} {t}" for s in SEQS for t in ("là gì?", "ở đâu?", "khi nào?", "bao nhiêu?")]
    qs += [fold(q) for q in qs]
    def opened() -> QAService:  # opened here, so both get the same (fake) reader as the default path
        return open_service(replace(svc.settings, auto_build="never"), encoder=FakeEncoder(), progress=False,
                            log=lambda m: None)

    one = opened()
    serial = {q: one.ask(q).to_dict() for q in qs}
    # a fresh service over the same index: empty query cache, so threads really encode at once
    fresh = opened()
    with ThreadPoolExecutor(max_workers=16) as pool:
        got = list(pool.map(lambda q: (q, fresh.ask(q).to_dict()), qs * 4))
    assert all(d == serial[q] for q, d in got)
