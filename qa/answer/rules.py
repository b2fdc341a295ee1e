"""The answer without a reader: the best sentence by cosine and coverage, above hand-set thresholds.

Only for a model the span reader was not trained on (another QA_MODEL) or QA_READER=off; the app
says which one runs (log and /healthz). The sentences of the top passages are scored by their
cosine to the question, how much of it they cover and whether they hold the kind of answer asked
for; a near tie goes to a sentence holding that kind, and an adjacent sentence scoring almost as
well joins the answer.

    rules = SentenceRules(index, RuleParams())
    cands = rules.score(result, terms, qtype, top_k)
    confidence, threshold = rules.confidence(terms, cands, result.hits)
"""

from __future__ import annotations

from dataclasses import dataclass

from qa.answer.answertype import AnswerType, has_type
from qa.answer.terms import QuestionTerms
from qa.index.store import IndexData
from qa.schema import Hit
from qa.search.hybrid import SearchResult


@dataclass(frozen=True)
class RuleParams:
    """Tuned on tests/data/seed_dev.json (the answer path of the first releases)."""

    sentence_dense_weight: float = 1.0
    sentence_lexical_weight: float = 0.2
    passage_weight: float = 0.05
    min_confidence: float = 0.87  # for Vietnamese questions (cosine + coverage)
    min_confidence_plain: float = 0.79  # for questions in another language (cosine alone)
    coverage_weight: float = 0.05
    second_sentence_margin: float = 0.02
    type_weight: float = 0.06  # bonus for a sentence holding the wanted kind of answer


@dataclass(frozen=True)
class Candidate:
    """A sentence of a shown passage, scored as a possible answer."""

    score: float
    chunk_id: int
    index: int  # the sentence's position in its chunk
    cosine: float


class SentenceRules:
    """Scores sentences and chooses the answering one(s) by the rules above."""

    def __init__(self, index: IndexData, params: RuleParams, passages: int = 3) -> None:
        self.index, self.params, self.passages = index, params, passages

    def sentence(self, chunk_id: int, j: int) -> tuple[str, int, int]:
        """(document text, start, end) of sentence j of a chunk."""
        c = self.index.chunks[chunk_id]
        s, e = c.sentences[j]
        return self.index.documents[c.doc_id].text, s, e

    def has_type(self, cand: Candidate, kind: AnswerType) -> bool:
        text, s, e = self.sentence(cand.chunk_id, cand.index)
        return has_type(text[s:e], kind)

    def score(self, result: SearchResult, terms: QuestionTerms, qtype: AnswerType | None,
              top_k: int) -> list[Candidate]:
        """Every sentence of the top passages (only those the user is shown), scored in reading order."""
        p = self.params
        out: list[Candidate] = []
        for rank, hit in enumerate(result.hits[: min(self.passages, top_k)]):
            cos = result.sentence_cos[hit.chunk_id]
            for j in range(len(cos)):
                text, s, e = self.sentence(hit.chunk_id, j)
                sent = text[s:e]
                score = (p.sentence_dense_weight * float(cos[j]) + p.sentence_lexical_weight * terms.coverage(sent)
                         + p.passage_weight * hit.score - 0.001 * rank
                         + (p.type_weight if qtype and has_type(sent, qtype) else 0.0))
                out.append(Candidate(score, hit.chunk_id, j, float(cos[j])))
        return out

    def confidence(self, terms: QuestionTerms, cands: list[Candidate], hits: list[Hit]) -> tuple[float, float]:
        """(evidence, threshold): the best sentence cosine, plus for a Vietnamese question how much of its
        words the best sentence's passage covers. A question in another language is judged by the
        cosine alone: its words are not the documents'."""
        p = self.params
        if not cands and not hits:
            return 0.0, p.min_confidence
        max_cos = max([0.0] + [c.cosine for c in cands])
        if not terms.vietnamese:
            return max_cos, p.min_confidence_plain
        chunk_id = best_candidate(cands).chunk_id if cands else hits[0].chunk_id
        cov = terms.coverage(self.index.chunks[chunk_id].text) if terms.weights else 0.0
        return max_cos + p.coverage_weight * cov, p.min_confidence

    def choose(self, cands: list[Candidate], qtype: AnswerType | None) -> tuple[int, int, int]:
        """(chunk id, start, end) of the answering sentence(s)."""
        p = self.params
        best = best_candidate(cands)
        if qtype is not None and not self.has_type(best, qtype):
            # among near ties, a sentence holding the wanted kind of answer wins
            ties = [c for c in cands if c.score >= best.score - p.second_sentence_margin and self.has_type(c, qtype)]
            if ties:
                best = max(ties, key=lambda c: (c.score, c.chunk_id, c.index))
        text, s, e = self.sentence(best.chunk_id, best.index)
        typed = qtype is not None and has_type(text[s:e], qtype)
        # a directly adjacent sentence scoring almost as well joins the answer (multi-part questions),
        # unless the answer holds the wanted kind of answer (a name, a date) and the neighbour does not
        for c in cands:
            if c.chunk_id == best.chunk_id and abs(c.index - best.index) == 1 and \
                    c.score >= best.score - p.second_sentence_margin:
                _, s2, e2 = self.sentence(c.chunk_id, c.index)
                if not typed or has_type(text[s2:e2], qtype):
                    s, e = min(s, s2), max(e, e2)
        return best.chunk_id, s, e


def best_candidate(cands: list[Candidate]) -> Candidate:
    """The first candidate with the highest score (reading order breaks ties)."""
    best = cands[0]
    for c in cands[1:]:
        if c.score > best.score:
            best = c
    return best
