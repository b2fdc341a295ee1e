"""The span reader as a re-ranker: does reading the top passages put the answer's paragraph first?

    python benchmarks/bench_rerank.py --data ../shared/data/viquad1_dev.json ../shared/data/zalo2019_train.json \\
        --work /tmp/qa-rank [--depth 5] [--limit N] [--out readings.json]

Runs over the paragraph index that benchmarks/bench_ranking.py built in --work (its question vectors
are reused). Each question (UIT-ViQuAD dev, never trained on; the held-out Zalo paragraphs) is
searched as the product searches (the shipped question tower and ranking, `QA_RANKING`), and the
shipped reader reads each of the first `--depth` passages under its heading, as the answerer does;
each reading's evidence (qa.answer.decide.Evidence) and the decision's logit are kept. Then R@1 of
the passage chosen is printed for: retrieval's order; the most likely reading among the first k
(the decision's logit, what the answerer does with k = passages_read); and a logistic re-ranking over
the evidence fitted on the `calib` halves and measured on the `test` halves (paragraph hashes,
qa.eval.data), so no figure is measured where it was fitted.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from qa.answer.answerer import Answerer  # noqa: E402
from qa.answer.answertype import expected_type  # noqa: E402
from qa.answer.decide import fit_logistic  # noqa: E402
from qa.answer.terms import QuestionTerms  # noqa: E402
from qa.config import Settings  # noqa: E402
from qa.eval.data import EvalItem, calibration, load_qa_file, paragraph_key, select  # noqa: E402
from qa.index.store import load_index  # noqa: E402
from qa.model.encoder import load_encoder  # noqa: E402
from qa.search.hybrid import Retriever  # noqa: E402
from qa.search.learned import ranker_for  # noqa: E402
from qa.search.stored_queries import StoredQueries  # noqa: E402
from qa.startup import load_query_encoder, load_reader  # noqa: E402


def read_all(answerer: Answerer, items: list[tuple[str, EvalItem]], depth: int) -> list[dict[str, object]]:
    """Per question: its group and half, each read passage's document, evidence vector and logit."""
    out = []
    t0 = time.perf_counter()
    for n, (group, it) in enumerate(items, 1):
        result = answerer.retriever.search(it.question, k=depth)
        terms = QuestionTerms.of(result.query, answerer.idf, answerer.default_idf)
        qtype = expected_type(result.query.restored)
        rows = []
        for rank, hit in enumerate(result.hits):
            j = answerer.judge_passage(result, terms, qtype, hit, rank)
            rows.append({"doc": answerer.index.chunks[hit.chunk_id].doc_id, "logit": j.logit,
                         "x": j.evidence.vector().tolist()})
        out.append({"group": group, "calib": calibration(it.context or ""),
                    "gold": paragraph_key(it.context or "") + ".txt", "rows": rows})
        if n % 200 == 0:
            print(f"  {n}/{len(items)} read, {(time.perf_counter() - t0) / n * 1000:.0f} ms a question",
                  file=sys.stderr, flush=True)
    return out


def r1(qs: list[dict[str, object]], choose) -> float:  # type: ignore[no-untyped-def]
    hit = 0
    for q in qs:
        rows = q["rows"]
        if rows:
            hit += rows[choose(rows)]["doc"] == q["gold"]  # type: ignore[index]
    return hit / max(1, len(qs))


def design(rows: list[dict[str, object]]) -> np.ndarray:
    """Per read passage: the evidence, one-hot of its rank, and its gap to the best margin of the question."""
    x = np.array([r["x"] for r in rows], dtype=np.float64)
    ranks = np.zeros((len(rows), 5))
    for k in range(len(rows)):
        ranks[k, min(k, 4)] = 1.0
    gap = (x[:, 0] - x[:, 0].max())[:, None]
    return np.hstack([x, ranks, gap])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", nargs="+", required=True, help="viquad1_dev.json and zalo2019_train.json")
    ap.add_argument("--work", default="/tmp/qa-rank", help="bench_ranking.py's work folder")
    ap.add_argument("--depth", type=int, default=5)
    ap.add_argument("--limit", type=int, default=0, help="at most this many questions per file")
    ap.add_argument("--out", help="keep the readings here (JSON); given an existing file, read nothing")
    args = ap.parse_args()
    work = Path(args.work)
    if args.out and Path(args.out).is_file():
        qs = json.loads(Path(args.out).read_text("utf-8"))
    else:
        settings = Settings.from_env()
        enc = load_encoder(settings.model)
        query_encoder, _ = load_query_encoder(settings, enc, log=lambda m: None)
        tag = getattr(query_encoder, "query_name", enc.name).partition("+")[2]
        queries = StoredQueries(query_encoder, work / (f"questions-{tag}.npz" if tag else "questions.npz"))
        index = load_index(work / "index")
        ranker = ranker_for(settings.ranking)
        choice = load_reader(settings, enc, log=lambda m: None)
        if choice.reader is None:
            raise SystemExit(f"no reader: {choice.answering}")
        answerer = Answerer(index, Retriever(index, queries, ranker=ranker), reader=choice.reader,
                            decision=choice.decision)
        items: list[tuple[str, EvalItem]] = []
        for f in args.data:
            its = load_qa_file(Path(f))
            its = its if "dev" in Path(f).stem else select(its, "heldout")
            items += [(Path(f).stem, it) for it in (its[: args.limit] if args.limit else its)]
        t0 = time.perf_counter()
        qs = read_all(answerer, items, args.depth)
        print(f"read {len(qs)} questions x {args.depth} passages in {time.perf_counter() - t0:.0f} s",
              file=sys.stderr)
        if args.out:
            Path(args.out).write_text(json.dumps(qs), encoding="utf-8")
    fit = [q for q in qs if q["calib"] and q["rows"]]
    test = [q for q in qs if not q["calib"]]
    xs = [design(q["rows"]) for q in fit]  # type: ignore[arg-type]
    y = np.array([float(r["doc"] == q["gold"]) for q in fit for r in q["rows"]])  # type: ignore[attr-defined]
    x = np.vstack(xs)
    mean, sd = x.mean(axis=0), x.std(axis=0)
    sd = np.where(sd > 1e-9, sd, 1.0)
    w = fit_logistic((x - mean) / sd, y, l2=1.0)
    groups = sorted({q["group"] for q in qs})  # type: ignore[misc]
    print("R@1 of the passage chosen (test halves; fitted on the calib halves)")
    for g in groups:
        part = [q for q in test if q["group"] == g]
        line = [f"{g:16} n={len(part):5}", f"retrieval {r1(part, lambda rows: 0):.3f}"]
        for k in (2, 3, 5):
            line.append(f"logit@{k} {r1(part, lambda rows, k=k: int(np.argmax([r['logit'] for r in rows[:k]]))):.3f}")
        for k in (2, 3, 5):
            def pick(rows, k=k):  # type: ignore[no-untyped-def]
                z = (design(rows[:k]) - mean) / sd
                return int(np.argmax(z @ w[:-1]))
            line.append(f"fitted@{k} {r1(part, pick):.3f}")
        found = sum(any(r["doc"] == q["gold"] for r in q["rows"]) for q in part)  # type: ignore[attr-defined]
        line.append(f"in the first {len(part[0]['rows']) if part else 0} {found / max(1, len(part)):.3f}")
        print("  ".join(line), flush=True)


if __name__ == "__main__":
    main()
