"""Fit the answer verifier on real retrieval over the training paragraphs, answerable and not.

Each training question is asked the way a user would ask it, over an index of all the training
paragraphs: its candidates (the best-scored sentences of the top passages, read by the reader)
are labelled by whether the sentence shown for them would hold a gold answer. Each question is then
asked again with its own paragraph left out of the results, so that every candidate is wrong: the
unanswerable cases that teach abstention, taken from the hardest place there is (the same topic,
the same corpus).

    verifier = fit_verifier(answerer, train_items)
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import replace

from qa.answer.answerer import Answerer, Judged
from qa.answer.answertype import expected_type
from qa.answer.terms import QuestionTerms
from qa.answer.verify import FEATURES, Evidence, Verifier
from qa.eval.data import EvalItem
from qa.eval.evaluate import gold_spans
from qa.search.query import Query

Progress = Callable[[int, int], None]


def neutral_verifier() -> Verifier:
    """A verifier whose logits are all 0: lets `Answerer.judge` gather evidence before any fitting."""
    n = len(FEATURES)
    return Verifier((0.0,) * n, (1.0,) * n, (0.0,) * (n + 1))


def _shown_span(answerer: Answerer, j: Judged) -> tuple[str, int, int]:
    """(doc, start, end) of what would be highlighted for this candidate (see Answerer.read_answer)."""
    chunk = answerer.index.chunks[j.candidate.chunk_id]
    s, e = chunk.sentences[j.candidate.index]
    r = j.reading
    if r.start < r.end:
        for a, b in chunk.sentences:
            if a < r.end and b > r.start:
                s, e = min(s, a), max(e, b)
    return chunk.doc_id, s, e


def question_examples(answerer: Answerer, item: EvalItem, leave_out_own: bool,
                      query: Query | None = None) -> tuple[list[Evidence], list[bool]]:
    """The evidence of one question's candidates and whether each is right."""
    k = answerer.params.passages_considered
    result = answerer.retriever.search(item.question, k=k + (10 if leave_out_own else 0), query=query)
    if leave_out_own:
        own = {d for d, doc in answerer.index.documents.items() if item.context and item.context in doc.text}
        hits = [h for h in result.hits if answerer.index.chunks[h.chunk_id].doc_id not in own][:k]
        result = replace(result, hits=hits)
    q = result.query
    terms = QuestionTerms.of(q, answerer.idf, answerer.default_idf)
    qtype = expected_type(q.restored)
    judged = answerer.judge(result, terms, qtype, answerer.score_sentences(result, terms, qtype, k))
    gold = [] if leave_out_own else gold_spans(answerer.index.documents, item)
    labels = []
    for j in judged:
        doc, s, e = _shown_span(answerer, j)
        labels.append(any(d == doc and a < e and b > s for d, a, b in gold))
    return [j.evidence for j in judged], labels


def fit_verifier(answerer: Answerer, items: list[EvalItem], progress: Progress | None = None,
                 questions: int = 800, seed: int = 0) -> Verifier:
    """Gather the candidates of up to `questions` questions (a seeded sample) twice (as asked, and with
    their paragraph left out) and fit. 800 questions give ~5,000 candidates for 11 features."""
    answerer = Answerer(answerer.index, answerer.retriever, answerer.params, answerer.reader, neutral_verifier())
    chosen = random.Random(seed).sample(items, min(questions, len(items)))
    queries = answerer.retriever.prepare.many([it.question for it in chosen])  # embedded in batches
    cands: list[list[Evidence]] = []
    labels: list[list[bool]] = []
    for n, (it, q) in enumerate(zip(chosen, queries, strict=True), 1):
        for leave_out in (False, True):
            ev, lab = question_examples(answerer, it, leave_out, q)
            cands.append(ev)
            labels.append(lab)
        if progress:
            progress(n, len(chosen))
    return Verifier.fit(cands, labels)
