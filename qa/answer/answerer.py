"""Pick the answering sentence(s) and phrase in the top passages, highlight them and the terms, or abstain.

`Answerer.ask` runs named steps over what retrieval already computed (its sentence cosines):
score the sentences of the passages the user will see; with a span reader (qa.reader), read the
best few of them, let the verifier (qa.answer.verify) judge each from all the evidence and answer
with the most likely one and its phrase, at the verifier's calibrated probability; without one,
judge the confidence by cosine and coverage and choose the answer by score (a near tie goes to a
sentence holding the wanted kind of answer; an adjacent sentence scoring almost as well joins it).
Either way the answer is checked for what it must contain (qa.answer.evidence), and the passages
are laid out with their highlights::

    ans = Answerer(index, Retriever(index, encoder)).ask("Ai chủ trì hội nghị?")
    ans.answer.text      # 'Đồng chí Lê Văn Thành, ..., Chủ tịch HĐND thành phố chủ trì hội nghị.'
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from qa.answer.answertype import AnswerType, expected_type, has_type
from qa.answer.evidence import ALL_CHECKS, missing_evidence
from qa.answer.terms import QuestionTerms, question_spellings, term_highlights
from qa.answer.verify import Evidence, Verifier
from qa.index.store import IndexData
from qa.reader.read import Reading, SpanReader
from qa.schema import Answer, AnswerSpan, Highlight, Hit, Passage, Phrase
from qa.search.hybrid import Retriever, SearchResult
from qa.search.query import Query


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
    reader_windows: int = 2  # best-scored sentences the reader reads (each in a window of its neighbours)
    min_probability: float = 0.05  # with a reader: answer when the verifier's probability reaches this (seed_dev)
    evidence_checks: frozenset[str] = ALL_CHECKS  # what an answer is checked for (qa.answer.evidence)


@dataclass(frozen=True)
class Candidate:
    """A sentence of a shown passage, scored as a possible answer."""

    score: float
    chunk_id: int
    index: int  # the sentence's position in its chunk
    cosine: float


@dataclass(frozen=True)
class Judged:
    """A candidate after reading: the reader's best span in its window and the verifier's logit."""

    candidate: Candidate
    reading: Reading
    evidence: Evidence
    logit: float


class Answerer:
    """Question -> Answer (passages, highlights, answer span and phrase, or abstention)."""

    def __init__(self, index: IndexData, retriever: Retriever, params: AnswerParams | None = None,
                 reader: SpanReader | None = None, verifier: Verifier | None = None) -> None:
        self.index = index
        self.retriever = retriever
        self.params = params or AnswerParams()
        self.reader, self.verifier = reader, verifier
        self.idf = index.terms.idf()
        self.default_idf = math.log(1 + max(1, index.terms.n_chunks))

    def ask(self, question: str, top_k: int = 5) -> Answer:
        t0 = time.perf_counter()
        result = self.retriever.search(question, k=max(top_k, self.params.passages_considered))
        q = result.query
        terms = QuestionTerms.of(q, self.idf, self.default_idf)
        qtype = expected_type(q.restored)  # restored: "bo may" is "bộ máy", not "mấy"
        cands = self.score_sentences(result, terms, qtype, top_k)
        span: tuple[AnswerSpan, int] | None = None
        missing = ""
        t1 = time.perf_counter()
        if self.reader is not None and self.verifier is not None:
            judged = self.judge(result, terms, qtype, cands)
            best = max(judged, key=lambda j: j.logit) if judged else None
            confidence = self.verifier.probability(best.logit) if best else 0.0
            if best is not None and confidence >= self.params.min_probability:
                span, missing = self.read_answer(best, q, terms, confidence)
        else:
            confidence, threshold = self.confidence(terms, cands, result.hits)
            if cands and confidence >= threshold:
                span, missing = self.choose_answer(cands, qtype, q, terms, confidence)
        passages = self.passages(result.hits[:top_k], span, q, terms)
        timings = dict(result.timings, read=time.perf_counter() - t1, total=time.perf_counter() - t0)
        return Answer(question, span[0] if span else None, passages, confidence, timings, missing)

    def judge(self, result: SearchResult, terms: QuestionTerms, qtype: AnswerType | None,
              cands: list[Candidate]) -> list[Judged]:
        """Read the best-scored candidates (one batch per passage) and weigh each one's evidence."""
        assert self.reader is not None and self.verifier is not None
        top = sorted(cands, key=lambda c: -c.score)[: self.params.reader_windows]
        hits = {h.chunk_id: (rank, h) for rank, h in enumerate(result.hits)}
        out: list[Judged] = []
        chunk_ids = list(dict.fromkeys(c.chunk_id for c in top))
        chosen_per = [[c for c in top if c.chunk_id == cid] for cid in chunk_ids]
        chunks = [self.index.chunks[cid] for cid in chunk_ids]
        texts = [self.index.documents[ch.doc_id].text for ch in chunks]
        # every window of every passage in one forward: per-call overhead dominates short windows
        jobs = [(t, ch.sentences, [c.index for c in chosen])
                for t, ch, chosen in zip(texts, chunks, chosen_per, strict=True)]
        read = self.reader.read_many(result.query.restored, jobs)
        for chunk_id, chosen, chunk, text, readings in zip(chunk_ids, chosen_per, chunks, texts, read, strict=True):
            rank, hit = hits[chunk_id]
            for c, r in zip(chosen, readings, strict=True):
                sent = text[slice(*chunk.sentences[c.index])]
                typed = qtype is not None and has_type(sent, qtype)
                ev = Evidence(r.margin, r.probability, c.cosine, terms.coverage(sent), terms.coverage(chunk.text),
                              typed, qtype is not None and not typed, hit.score, rank, top.index(c),
                              terms.vietnamese)
                out.append(Judged(c, r, ev, self.verifier.logit(ev)))
        return out

    def read_answer(self, best: Judged, q: Query, terms: QuestionTerms,
                    confidence: float) -> tuple[tuple[AnswerSpan, int] | None, str]:
        """The sentences holding the reader's span (at least the candidate's), with the span as the phrase."""
        chunk = self.index.chunks[best.candidate.chunk_id]
        text = self.index.documents[chunk.doc_id].text
        r = best.reading
        s, e = chunk.sentences[best.candidate.index]
        if r.start < r.end:
            for a, b in chunk.sentences:
                if a < r.end and b > r.start:
                    s, e = min(s, a), max(e, b)
        lacking = missing_evidence(q.restored, text[s:e], chunk.text, self.index.lexical.has_phrase,
                                   vietnamese=terms.vietnamese, checks=self.params.evidence_checks)
        if lacking is not None:
            return None, lacking.message_vi()
        phrase = Phrase(text[r.start : r.end], r.start, r.end) if s <= r.start < r.end <= e else None
        return (AnswerSpan(text[s:e], chunk.doc_id, s, e, round(confidence, 4), phrase), best.candidate.chunk_id), ""

    def _sentence(self, chunk_id: int, j: int) -> tuple[str, int, int]:
        """(document text, start, end) of sentence j of a chunk."""
        c = self.index.chunks[chunk_id]
        s, e = c.sentences[j]
        return self.index.documents[c.doc_id].text, s, e

    def _has_type(self, cand: Candidate, kind: AnswerType) -> bool:
        text, s, e = self._sentence(cand.chunk_id, cand.index)
        return has_type(text[s:e], kind)

    def score_sentences(self, result: SearchResult, terms: QuestionTerms, qtype: AnswerType | None,
                        top_k: int) -> list[Candidate]:
        """Every sentence of the top passages (only those the user is shown), scored in reading order."""
        p = self.params
        out: list[Candidate] = []
        for rank, hit in enumerate(result.hits[: min(p.passages_considered, top_k)]):
            cos = result.sentence_cos[hit.chunk_id]
            for j in range(len(cos)):
                text, s, e = self._sentence(hit.chunk_id, j)
                sent = text[s:e]
                score = (p.sentence_dense_weight * float(cos[j]) + p.sentence_lexical_weight * terms.coverage(sent)
                         + p.passage_weight * hit.score - 0.001 * rank
                         + (p.type_weight if qtype and has_type(sent, qtype) else 0.0))
                out.append(Candidate(score, hit.chunk_id, j, float(cos[j])))
        return out

    def confidence(self, terms: QuestionTerms, cands: list[Candidate], hits: list[Hit]) -> tuple[float, float]:
        """(evidence, threshold): the best sentence cosine, plus for a Vietnamese question (with or
        without diacritics: terms are compared folded) how much of its words the best sentence's
        passage covers. A question in another language is judged by the cosine alone: its words are
        not the documents'.
        """
        p = self.params
        if not cands and not hits:
            return 0.0, p.min_confidence
        max_cos = max([0.0] + [c.cosine for c in cands])
        if not terms.vietnamese:
            return max_cos, p.min_confidence_plain
        chunk_id = _best(cands).chunk_id if cands else hits[0].chunk_id
        cov = terms.coverage(self.index.chunks[chunk_id].text) if terms.weights else 0.0
        return max_cos + p.coverage_weight * cov, p.min_confidence

    def choose_answer(self, cands: list[Candidate], qtype: AnswerType | None, q: Query, terms: QuestionTerms,
                      confidence: float) -> tuple[tuple[AnswerSpan, int] | None, str]:
        """((answer, its chunk), "") or (None, why the best sentence cannot answer, in Vietnamese)."""
        p = self.params
        best = _best(cands)
        if qtype is not None and not self._has_type(best, qtype):
            # among near ties, a sentence holding the wanted kind of answer wins
            ties = [c for c in cands if c.score >= best.score - p.second_sentence_margin and self._has_type(c, qtype)]
            if ties:
                best = max(ties, key=lambda c: (c.score, c.chunk_id, c.index))
        text, s, e = self._sentence(best.chunk_id, best.index)
        typed = qtype is not None and has_type(text[s:e], qtype)
        # a directly adjacent sentence scoring almost as well joins the answer (multi-part questions),
        # unless the answer holds the wanted kind of answer (a name, a date) and the neighbour does not
        for c in cands:
            if c.chunk_id == best.chunk_id and abs(c.index - best.index) == 1 and \
                    c.score >= best.score - p.second_sentence_margin:
                _, s2, e2 = self._sentence(c.chunk_id, c.index)
                if not typed or has_type(text[s2:e2], qtype):
                    s, e = min(s, s2), max(e, e2)
        chunk = self.index.chunks[best.chunk_id]
        lacking = missing_evidence(q.restored, text[s:e], chunk.text, self.index.lexical.has_phrase,
                                   vietnamese=terms.vietnamese, checks=self.params.evidence_checks)
        if lacking is not None:
            return None, lacking.message_vi()
        return (AnswerSpan(text[s:e], chunk.doc_id, s, e, round(confidence, 4)), best.chunk_id), ""

    def passages(self, hits: list[Hit], span: tuple[AnswerSpan, int] | None, q: Query,
                 terms: QuestionTerms) -> tuple[Passage, ...]:
        """The shown passages with answer and term highlights; the answer's passage first (its sentence
        evidence outranks the passage fusion, and the user reads the answer in its context)."""
        if span is not None:
            hits = sorted(hits, key=lambda h: h.chunk_id != span[1])
        spellings = question_spellings(q.expanded, content_only=False)  # terms already dropped stopwords
        out = []
        for h in hits:
            c = self.index.chunks[h.chunk_id]
            hl: list[Highlight] = []
            if span is not None:
                a = span[0]
                if a.doc == c.doc_id and a.start < c.end and a.end > c.start:
                    hl.append(Highlight(max(a.start, c.start), min(a.end, c.end), "answer"))
                    if a.phrase is not None and a.phrase.start < c.end and a.phrase.end > c.start:
                        hl.append(Highlight(max(a.phrase.start, c.start), min(a.phrase.end, c.end), "phrase"))
            hl += term_highlights(c.text, c.start, spellings, keep=terms.weights)
            hl.sort(key=lambda x: (x.start, ("answer", "phrase", "term").index(x.label)))
            out.append(Passage(c.doc_id, c.title, c.text, c.start, c.end, h.score, tuple(hl)))
        return tuple(out)


def _best(cands: list[Candidate]) -> Candidate:
    """The first candidate with the highest score (reading order breaks ties)."""
    best = cands[0]
    for c in cands[1:]:
        if c.score > best.score:
            best = c
    return best
