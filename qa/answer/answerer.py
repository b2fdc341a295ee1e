"""Answer a question from the top passages: the reader reads them, one calibrated decision answers or abstains.

`Answerer.ask` runs named steps over what retrieval computed: the span reader (qa.reader) reads the
first `passages_read` passages whole, each under its heading; every passage's best phrase becomes a
candidate with its evidence; the decision (qa.answer.decide) picks the most likely candidate (the
reader re-ranks the passages) and turns its logit into the probability shown to the user, then
answers, answers tentatively, or abstains. The answer is the sentence(s) holding the phrase.
Without a reader (another model, or QA_READER=off) the sentence rules of qa.answer.rules answer
instead. Either way the passages are laid out with their highlights::

    ans = Answerer(index, Retriever(index, encoder), reader=reader, decision=decision).ask("Ai chủ trì hội nghị?")
    ans.answer.phrase.text      # 'Lê Văn Thành'
"""

from __future__ import annotations

import math
import time
from collections.abc import Collection
from dataclasses import dataclass, field, replace
from typing import Literal

from qa.answer.answertype import AnswerType, expected_type, has_type
from qa.answer.decide import Decision, Evidence
from qa.answer.evidence import Lack, missing_evidence
from qa.answer.rules import RuleParams, SentenceRules
from qa.answer.terms import QuestionTerms, question_spellings, term_highlights
from qa.index.store import IndexData
from qa.ingest.headings import section_headings
from qa.reader.read import Reading, SpanReader
from qa.reader.windows import Passage as ReaderPassage
from qa.schema import Answer, AnswerSpan, Chunk, Highlight, Hit, Passage, Phrase
from qa.search.hybrid import Retriever, SearchResult
from qa.search.query import Query

Span = tuple[int, int]
DECISION_CHECKS = ("number", "name")  # the evidence checks the decision weighs (features of qa.answer.decide)


@dataclass(frozen=True)
class AnswerParams:
    """How many passages are read and which evidence checks count (measured on held-out sets)."""

    passages_read: int = 2  # top passages the reader reads, each whole (the latency budget)
    # stop reading once a passage is answered this surely; None: read all; "decision": the decision's
    # own `early_stop`, fitted with it (the probability it is compared with means something only then;
    # the shipped one, 0.6: same figures on every held-out set as 0.9, warm p50 128 → 89 ms)
    early_stop: float | None | Literal["decision"] = "decision"
    passages_considered: int = 3  # rules: passages whose sentences are scored
    # qa.answer.evidence checks: with the reader, features the decision weighs (number and name; as a
    # veto the number check refused 15 right answers of 1,119 UIT-ViQuAD calibration questions for 78
    # unanswerable ones caught, which the decision mostly catches itself) and the name check also a veto;
    # without the reader, vetoes of the rules' answer: a number the question gives (a year) absent from
    # the passage, a name the documents never mention
    evidence_checks: frozenset[str] = frozenset({"number", "name"})
    rules: RuleParams = field(default_factory=RuleParams)


@dataclass(frozen=True)
class Judged:
    """A read passage: the reader's best phrase, the sentence(s) around it, its evidence and logit."""

    hit: Hit
    rank: int
    reading: Reading
    span: Span  # the answer sentence(s) holding the phrase, document offsets
    evidence: Evidence
    logit: float
    lacking: Lack | None = None  # what a check finds the answer sentence lacking (the reason, if it abstains)


class Answerer:
    """Question -> Answer (passages, highlights, answer span and phrase, or abstention)."""

    def __init__(self, index: IndexData, retriever: Retriever, params: AnswerParams | None = None,
                 reader: SpanReader | None = None, decision: Decision | None = None) -> None:
        self.index = index
        self.retriever = retriever
        self.params = params or AnswerParams()
        self.reader = reader
        self.decision = decision or Decision.neutral()
        self.rules = SentenceRules(index, self.params.rules, self.params.passages_considered)
        self.idf = index.terms.idf()
        self.default_idf = math.log(1 + max(1, index.terms.n_chunks))
        self._headings: dict[str, list[Span]] = {}

    def search(self, question: str, k: int, exclude_docs: Collection[str] = ()) -> SearchResult:
        """Retrieval; `exclude_docs` drops passages of those documents (calibration's unanswerable cases)."""
        if not exclude_docs:
            return self.retriever.search(question, k=k)
        result = self.retriever.search(question, k=k + 10)
        hits = [h for h in result.hits if self.index.chunks[h.chunk_id].doc_id not in exclude_docs][:k]
        return replace(result, hits=hits)

    def ask(self, question: str, top_k: int = 5, exclude_docs: Collection[str] = ()) -> Answer:
        t0 = time.perf_counter()
        p = self.params
        result = self.search(question, max(top_k, p.passages_read, p.passages_considered), exclude_docs)
        q = result.query
        terms = QuestionTerms.of(q, self.idf, self.default_idf)
        qtype = expected_type(q.restored)  # restored: "bo may" is "bộ máy", not "mấy"
        t1 = time.perf_counter()
        if self.reader is not None:
            span, confidence, missing = self.answer_by_reader(result, terms, qtype)
        else:
            span, confidence, missing = self.answer_by_rules(result, terms, qtype, top_k)
        passages = self.passages(result.hits[:top_k], span, q, terms)
        timings = dict(result.timings, read=time.perf_counter() - t1, total=time.perf_counter() - t0)
        return Answer(question, span[0] if span else None, passages, confidence, timings, missing)

    # --- with the reader -------------------------------------------------------------------------

    def heading(self, chunk: Chunk) -> Span | None:
        """The nearest section heading before the chunk (document offsets), when the chunk lacks it."""
        spans = self._headings.get(chunk.doc_id)
        if spans is None:
            doc = self.index.documents[chunk.doc_id]
            spans = self._headings.setdefault(chunk.doc_id, [heading_span(doc.text, a)
                                                             for a, _ in section_headings(doc)])
        before = [s for s in spans if s[1] <= chunk.start and s[0] < s[1]]
        return before[-1] if before else None

    def judge(self, result: SearchResult, terms: QuestionTerms, qtype: AnswerType | None) -> list[Judged]:
        """Read the first passages one by one and weigh each one's best phrase; stop early once one is
        answered with a probability of `early_stop` (reading the next could only confirm it)."""
        out = []
        stop = self.decision.early_stop if self.params.early_stop == "decision" else self.params.early_stop
        for rank, hit in enumerate(result.hits[: self.params.passages_read]):
            j = self.judge_passage(result, terms, qtype, hit, rank)
            out.append(j)
            if stop is not None and self.decision.probability(j.logit) >= stop:
                break
        return out

    def judge_passage(self, result: SearchResult, terms: QuestionTerms, qtype: AnswerType | None, hit: Hit,
                      rank: int) -> Judged:
        """The reader's best phrase in one passage (under its heading), and its evidence."""
        assert self.reader is not None
        chunk = self.index.chunks[hit.chunk_id]
        text = self.index.documents[chunk.doc_id].text
        hd = self.heading(chunk)
        [r] = self.reader.read(result.query.restored, [ReaderPassage(text, chunk.sentences, hd)])
        span, j = answer_sentences(chunk, hd, r)
        head = text[hd[0] : hd[1]] + " " if hd else ""
        sent, phrase = text[span[0] : span[1]], text[r.start : r.end]
        cos = result.sentence_cos.get(hit.chunk_id)
        cosine = 0.0 if cos is None or not len(cos) else float(cos[j]) if j is not None and j < len(cos) else \
            float(max(cos))
        lacks = {c: self.lacking(result, terms, chunk, sent, c) for c in DECISION_CHECKS}
        ev = Evidence(r.margin, r.score, r.null, hit.score, rank, cosine, terms.coverage(head + chunk.text),
                      terms.coverage(head + sent), qtype is not None and has_type(phrase, qtype),
                      qtype is not None and not has_type(sent, qtype), len(phrase.split()), terms.vietnamese,
                      lacks["number"] is not None, lacks["name"] is not None)
        lacking = lacks["name"] or lacks["number"]
        return Judged(hit, rank, r, span, ev, self.decision.logit(ev), lacking)

    def answer_by_reader(self, result: SearchResult, terms: QuestionTerms, qtype: AnswerType | None
                         ) -> tuple[tuple[AnswerSpan, int] | None, float, str]:
        """(answer and its chunk id, or None; the probability; why not, in Vietnamese)."""
        judged = self.judge(result, terms, qtype) if result.hits else []
        if not judged:
            return None, 0.0, ""
        best = max(judged, key=lambda j: j.logit)
        confidence = self.decision.probability(best.logit)
        outcome = self.decision.outcome(confidence)
        # a name the documents never mention is a veto too: weighed only, it let "Ai là Chủ tịch UBND thành
        # phố Hà Nội?" be answered at P 0.7 with Hải Phòng's chairman (its weight came out near 0: the
        # calibration questions rarely name what their documents lack)
        if outcome == "abstain" or best.evidence.lacks_name:  # what it lacks, if a check found it, is the reason
            return None, confidence, best.lacking.message_vi() if best.lacking is not None else ""
        chunk = self.index.chunks[best.hit.chunk_id]
        text = self.index.documents[chunk.doc_id].text
        s, e = best.span
        r = best.reading
        phrase = Phrase(text[r.start : r.end], r.start, r.end) if s <= r.start < r.end <= e else None
        span = AnswerSpan(text[s:e], chunk.doc_id, s, e, round(confidence, 4), phrase, outcome == "tentative")
        return (span, best.hit.chunk_id), confidence, ""

    def lacking(self, result: SearchResult, terms: QuestionTerms, chunk: Chunk, sentence: str,
                check: str) -> Lack | None:
        """What an answer sentence lacks that the question gives by one check of qa.answer.evidence (when
        it is one of `evidence_checks`), or None."""
        if check not in self.params.evidence_checks:
            return None
        return missing_evidence(result.query.restored, sentence, chunk.text, self.index.lexical.has_phrase,
                                vietnamese=terms.vietnamese, checks={check})

    # --- without a reader ------------------------------------------------------------------------

    def answer_by_rules(self, result: SearchResult, terms: QuestionTerms, qtype: AnswerType | None,
                        top_k: int) -> tuple[tuple[AnswerSpan, int] | None, float, str]:
        cands = self.rules.score(result, terms, qtype, top_k)
        confidence, threshold = self.rules.confidence(terms, cands, result.hits)
        if not cands or confidence < threshold:
            return None, confidence, ""
        chunk_id, s, e = self.rules.choose(cands, qtype)
        chunk = self.index.chunks[chunk_id]
        text = self.index.documents[chunk.doc_id].text
        lacking = missing_evidence(result.query.restored, text[s:e], chunk.text, self.index.lexical.has_phrase,
                                   vietnamese=terms.vietnamese)
        if lacking is not None:
            return None, confidence, lacking.message_vi()
        return (AnswerSpan(text[s:e], chunk.doc_id, s, e, round(confidence, 4)), chunk_id), confidence, ""

    # --- layout ----------------------------------------------------------------------------------

    def passages(self, hits: list[Hit], span: tuple[AnswerSpan, int] | None, q: Query,
                 terms: QuestionTerms) -> tuple[Passage, ...]:
        """The shown passages with answer and term highlights; the answer's passage first (the reader
        re-ranked it, and the user reads the answer in its context)."""
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


def heading_span(text: str, at: int) -> Span:
    """The heading line starting at `at`, without Markdown's `#` marks.

    >>> t = "## Giờ mở cửa ##\\nTừ 7 giờ 30."
    >>> t[slice(*heading_span(t, 0))]
    'Giờ mở cửa'
    """
    end = text.find("\n", at)
    end = len(text) if end < 0 else end
    a, b = at, end
    while a < b and text[a] in "# \t":
        a += 1
    while b > a and text[b - 1] in "# \t\r":
        b -= 1
    return a, b


def answer_sentences(chunk: Chunk, heading: Span | None, r: Reading) -> tuple[Span, int | None]:
    """The chunk's sentence(s) holding the phrase (or the heading, when the phrase is in it), and the
    index of the first of those sentences (None for the heading)."""
    if heading and heading[0] <= r.start and r.end <= heading[1]:
        return heading, None
    lo = max(r.start, chunk.start)
    hi = max(min(r.end, chunk.end), lo + 1)
    inside = [k for k, (a, b) in enumerate(chunk.sentences) if a < hi and b > lo]
    if not inside:  # an empty reading: the passage's first sentence stands for it
        inside = [0]
    return (chunk.sentences[inside[0]][0], chunk.sentences[inside[-1]][1]), inside[0]
