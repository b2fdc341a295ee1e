"""Pick the answering sentence(s) in the top passages, highlight them and the matched terms, or abstain.

>>> ans = Answerer(retriever).ask("Ai chủ trì hội nghị?")
>>> ans.answer.text
'Đồng chí Lê Văn Thành, ..., Chủ tịch HĐND thành phố chủ trì hội nghị.'
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Container
from dataclasses import dataclass
from functools import lru_cache

from qa.answer.answertype import expected_type, has_type
from qa.answer.evidence import missing_evidence
from qa.lang.text import Token, tokenize
from qa.schema import Answer, AnswerSpan, Highlight, Passage
from qa.search.hybrid import Query, Retriever

# Question words and particles: matching them is no evidence (and highlighting them is noise).
STOPWORDS = frozenset(
    """ai gì nào đâu sao bao nhiêu mấy khi nào thế nào như là của có không được những các và với cho
    trong ở tại về từ đến theo này đó thì mà hay hoặc bị đã sẽ đang rất cũng vì nên để người một
    ra vào lên xuống ạ à ư nhỉ nhé vậy the a an of in on at to is are was were what who whom which
    when where why how does do did many much for by with from and or be""".split()
)
FOLDED_STOP = frozenset(t.folded for w in STOPWORDS for t in tokenize(w))


def _content(t: Token) -> bool:
    """A question word worth matching: not a stopword, not a lone letter."""
    stop = t.norm in STOPWORDS or (t.norm == t.folded and t.folded in FOLDED_STOP)
    return not stop and (len(t.folded) > 1 or t.folded.isdigit())


Spellings = tuple[frozenset[str], frozenset[str]]  # (accented words as typed, unaccented words folded)


def question_spellings(question: str, content_only: bool = True) -> Spellings:
    """How question words may match: an accented word only as spelled, an unaccented one with any accents."""
    words = [t for t in tokenize(question) if not content_only or (t.norm not in STOPWORDS and _content(t))]
    return (frozenset(t.norm for t in words if t.norm != t.folded),
            frozenset(t.folded for t in words if t.norm == t.folded))


def term_highlights(text: str, base: int, spellings: Spellings, keep: Container[str] | None = None) -> list[Highlight]:
    """'term' highlights (offsets + base) of the words of `text` matching the question's spellings."""
    accented, folded_ok = spellings
    return [Highlight(base + t.start, base + t.end, "term") for t in _tokens(text)
            if (keep is None or t.folded in keep) and (t.norm in accented or t.folded in folded_ok)]


@lru_cache(maxsize=16384)
def _tokens(text: str) -> tuple[Token, ...]:
    """Tokens of a chunk or sentence; cached because the same passages come back on every ask."""
    return tuple(tokenize(text))


@dataclass(frozen=True)
class AnswerParams:
    """Tuned on tests/data/seed_dev.json; `min_confidence` is the abstention threshold."""

    passages_considered: int = 3
    sentence_dense_weight: float = 1.0
    sentence_lexical_weight: float = 0.2
    passage_weight: float = 0.05
    min_confidence: float = 0.87  # for Vietnamese questions (cosine + coverage)
    min_confidence_plain: float = 0.79  # for questions in another language (cosine alone)
    coverage_weight: float = 0.05
    second_sentence_margin: float = 0.02
    type_weight: float = 0.06  # bonus for a sentence holding the wanted kind of answer (qa.answer.answertype)


class Answerer:
    """Question -> Answer (passages, highlights, answer span or abstention)."""

    def __init__(self, retriever: Retriever, params: AnswerParams | None = None) -> None:
        self.retriever = retriever
        self.params = params or AnswerParams()
        data = retriever.data
        # document frequency of folded syllables over chunks, for IDF-weighted term evidence
        df: Counter[str] = Counter()
        for c in data.chunks:
            df.update({t.folded for t in tokenize(c.text)})
        n = max(1, len(data.chunks))
        self.idf = {t: math.log(1 + n / (1 + f)) for t, f in df.items()}
        self.default_idf = math.log(1 + n)

    def _question_terms(self, q: Query) -> tuple[dict[str, float], bool]:
        """Folded content syllables of the (expanded) question with their IDF, and whether it is Vietnamese.

        For a Vietnamese question, a word the documents never use counts with the highest IDF, so
        "Chủ tịch UBND Hà Nội" is not fully covered by a passage about Hải Phòng. For a question in
        another language unknown words carry no weight: the dense side judges it.
        """
        # stopwords are judged on the restored spelling (folded "bi" is "bị", a stopword, or "bí", not)
        # and on the spelling as typed ("the" must not become a content word "thể")
        typed, restored = tokenize(q.expanded), tokenize(q.restored)
        if len(typed) != len(restored):
            restored = typed
        toks = [r for t, r in zip(typed, restored, strict=True) if t.norm not in STOPWORDS and _content(r)]
        known = [t for t in toks if t.folded in self.idf]
        vietnamese = q.accent_ratio > 0 or len(known) >= 0.6 * max(1, len(toks))
        out: dict[str, float] = {}
        for t in toks:
            if t.folded in self.idf:
                out[t.folded] = self.idf[t.folded]
            elif vietnamese:
                out[t.folded] = self.default_idf
        return out, vietnamese

    def _coverage(self, text: str, qterms: dict[str, float]) -> float:
        if not qterms:
            return 0.0
        present = {t.folded for t in _tokens(text)}
        return sum(w for t, w in qterms.items() if t in present) / sum(qterms.values())

    def ask(self, question: str, top_k: int = 5) -> Answer:
        t0 = time.perf_counter()
        r = self.retriever
        result = r.search(question, k=max(top_k, self.params.passages_considered))
        q, hits = result.query, result.hits
        data = r.data
        qterms, vietnamese = self._question_terms(q)
        qtype = expected_type(q.restored)  # restored: "bo may" is "bộ máy", not "mấy"
        # sentence candidates in the top passages
        best: tuple[float, int, int, float] | None = None  # score, chunk, sentence index, dense cos
        max_cos = 0.0
        scored: list[tuple[float, int, int]] = []
        p = self.params
        # the answer must come from a passage the user is shown
        for rank, hit in enumerate(hits[: min(p.passages_considered, top_k)]):
            chunk = data.chunks[hit.chunk_id]
            lo, hi = data.sentence_offsets[hit.chunk_id], data.sentence_offsets[hit.chunk_id + 1]
            if hi == lo:
                continue
            cos = (data.sentence_vectors[lo:hi] @ q.vectors.T).max(axis=1)
            max_cos = max(max_cos, float(cos.max()))
            doc_text = data.documents[chunk.doc_id].text
            for j, (s, e) in enumerate(chunk.sentences):
                sent = doc_text[s:e]
                cov = self._coverage(sent, qterms)
                score = (p.sentence_dense_weight * float(cos[j]) + p.sentence_lexical_weight * cov
                         + p.passage_weight * hit.score - 0.001 * rank
                         + (p.type_weight if qtype and has_type(sent, qtype) else 0.0))
                scored.append((score, hit.chunk_id, j))
                if best is None or score > best[0]:
                    best = (score, hit.chunk_id, j, float(cos[j]))
        evidence_chunk = best[1] if best is not None else (hits[0].chunk_id if hits else -1)
        confidence, threshold = self.confidence(qterms, vietnamese, max_cos, evidence_chunk)
        answer_span: AnswerSpan | None = None
        missing = ""
        answer_ranges: list[tuple[str, int, int]] = []
        if best is not None and confidence >= threshold:
            if qtype is not None:
                # among near ties, a sentence holding the wanted kind of answer wins
                ties = [t for t in scored if t[0] >= best[0] - p.second_sentence_margin
                        and self._has_type(t[1], t[2], qtype)]
                if ties and not self._has_type(best[1], best[2], qtype):
                    top = max(ties)
                    best = (top[0], top[1], top[2], best[3])
            _, cid, j, _ = best
            chunk = data.chunks[cid]
            s, e = chunk.sentences[j]
            doc_text = data.documents[chunk.doc_id].text
            typed = qtype is not None and has_type(doc_text[s:e], qtype)
            # a directly adjacent sentence scoring almost as well joins the answer (multi-part questions),
            # unless the answer holds the wanted kind of answer (a name, a date) and the neighbour does not
            for score, cid2, j2 in scored:
                if cid2 == cid and abs(j2 - j) == 1 and score >= best[0] - p.second_sentence_margin:
                    s2, e2 = chunk.sentences[j2]
                    if not typed or has_type(doc_text[s2:e2], qtype):
                        s, e = min(s, s2), max(e, e2)
            lacking = missing_evidence(q.restored, doc_text[s:e], chunk.text, data.lexical.has_phrase,
                                       vietnamese=vietnamese)
            if lacking is None:
                answer_span = AnswerSpan(doc_text[s:e], chunk.doc_id, s, e, round(confidence, 4))
                answer_ranges.append((chunk.doc_id, s, e))
            else:
                missing = lacking.message_vi()
        spellings = question_spellings(q.expanded, content_only=False)  # qterms already dropped stopwords
        shown = hits[:top_k]
        if answer_span is not None and best is not None:
            # the passage holding the answer comes first: sentence evidence (cosine, coverage, answer
            # type) outranks the passage fusion, and the user reads the answer in its context
            shown = sorted(shown, key=lambda h: h.chunk_id != best[1])
        passages = tuple(self._passage(h.chunk_id, h.score, spellings, qterms, answer_ranges) for h in shown)
        timings = dict(result.timings, total=time.perf_counter() - t0)
        return Answer(question, answer_span, passages, confidence, timings, missing)

    def _has_type(self, chunk_id: int, j: int, kind: str) -> bool:
        c = self.retriever.data.chunks[chunk_id]
        s, e = c.sentences[j]
        return has_type(self.retriever.data.documents[c.doc_id].text[s:e], kind)

    def confidence(self, qterms: dict[str, float], vietnamese: bool, max_cos: float,
                   chunk_id: int) -> tuple[float, float]:
        """(evidence, threshold): the best sentence cosine, plus for a Vietnamese question (with or
        without diacritics: terms are compared folded) how much of its words the answer's passage covers.

        A question in another language is judged by the cosine alone: its words are not the documents'.
        """
        p = self.params
        if chunk_id < 0:
            return 0.0, p.min_confidence
        if not vietnamese:
            return max_cos, p.min_confidence_plain
        cov = self._coverage(self.retriever.data.chunks[chunk_id].text, qterms) if qterms else 0.0
        return max_cos + p.coverage_weight * cov, p.min_confidence

    def _passage(self, cid: int, score: float, spellings: Spellings, qterms: dict[str, float],
                 answers: list[tuple[str, int, int]]) -> Passage:
        data = self.retriever.data
        c = data.chunks[cid]
        hl: list[Highlight] = []
        for doc, s, e in answers:
            if doc == c.doc_id and s < c.end and e > c.start:
                hl.append(Highlight(max(s, c.start), min(e, c.end), "answer"))
        hl += term_highlights(c.text, c.start, spellings, keep=qterms)
        hl.sort(key=lambda h: (h.start, h.label != "answer"))
        return Passage(c.doc_id, c.title, c.text, c.start, c.end, score, tuple(hl))
