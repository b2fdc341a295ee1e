"""Diacritic restoration on the seed: accuracy (leave-in and held-out halves) and timing.

Run: `python benchmarks/bench_diacritics.py [path ...]` (default: the seed article).
Each sentence is stripped of its marks (case kept), restored, and compared syllable by syllable.
"""

from __future__ import annotations

import json
import random
import re
import statistics
import sys
import time
import unicodedata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from qa.lang.diacritics import DiacriticRestorer  # noqa: E402
from qa.lang.text import tokenize  # noqa: E402

SEED = Path(__file__).resolve().parent.parent / "seeds" / "000_1ba926b528c724f1.txt"


def strip_marks(text: str) -> str:
    """Remove diacritics but keep case: 'Đảng' -> 'Dang'."""
    out = "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))
    return out.replace("đ", "d").replace("Đ", "D")


def sentences(texts: list[str]) -> list[str]:
    out = []
    for text in texts:
        out += [s.strip() for s in re.split(r"(?<=[.!?;:…\n])", text) if tokenize(s)]
    return out


def strip_every_other(text: str) -> str:
    """Half-accented input: marks removed from every second syllable."""
    toks = tokenize(text)
    cut = [(t.start, t.end) for t in toks[1::2]]
    out, last = [], 0
    for a, b in cut:
        out += [text[last:a], strip_marks(text[a:b])]
        last = b
    return "".join(out) + text[last:]


def score(model: DiacriticRestorer, sents: list[str]) -> dict[str, float]:
    """Syllable accuracy for stripped / half-stripped / accented input, exact rates, ms per sentence."""
    right = {"plain": 0, "half": 0, "accented": 0}
    total = exact = unchanged = 0
    times = []
    for s in sents:
        want = [t.norm for t in tokenize(s)]
        total += len(want)
        for kind, typed in (("plain", strip_marks(s)), ("half", strip_every_other(s)), ("accented", s)):
            t0 = time.perf_counter()
            restored = model.restore(typed)
            if kind == "plain":
                times.append(time.perf_counter() - t0)
            got = [t.norm for t in tokenize(restored)]
            assert len(want) == len(got), (s, restored)
            right[kind] += sum(a == b for a, b in zip(want, got, strict=True))
            exact += kind == "plain" and want == got
            unchanged += kind == "accented" and restored == s
    out = {k: v / total for k, v in right.items()}
    out["exact"], out["unchanged"] = exact / len(sents), unchanged / len(sents)
    out["ms"] = 1000 * statistics.mean(times)
    return out


def show(name: str, r: dict[str, float]) -> None:
    print(
        f"{name}: syllables restored {r['plain']:.4f} (sentences exact {r['exact']:.3f}) | "
        f"half-accented input {r['half']:.4f} | accented input {r['accented']:.4f} "
        f"(unchanged {r['unchanged']:.3f}) | {r['ms']:.2f} ms/sentence"
    )


def main(paths: list[Path]) -> None:
    texts = [p.read_text(encoding="utf-8") for p in paths]
    sents = sentences(texts)
    n_syl = sum(len(tokenize(t)) for t in texts)
    t0 = time.perf_counter()
    model = DiacriticRestorer.fit(texts)
    fit_s = time.perf_counter() - t0
    blob = json.dumps(model.to_dict(), ensure_ascii=False)
    t0 = time.perf_counter()
    DiacriticRestorer.from_dict(json.loads(blob))
    load_s = time.perf_counter() - t0
    print(f"corpus: {len(sents)} sentences, {n_syl} syllables")
    print(
        f"fit {fit_s * 1000:.1f} ms | to_dict JSON {len(blob) / 1024:.0f} KiB, json.loads+from_dict "
        f"{load_s * 1000:.1f} ms"
    )
    show("leave-in ", score(model, sents))
    halves = [sents[0::2], sents[1::2]]
    folds = [score(DiacriticRestorer.fit(halves[1 - k]), halves[k]) for k in (0, 1)]
    show("held-out ", {key: statistics.mean(f[key] for f in folds) for key in folds[0]})
    print(
        "  (held-out: fit on alternate sentences, scored on the rest; syllables the other half lacks "
        "cannot be restored)"
    )
    questions = [
        "bi thu thanh uy la ai",
        "nam 2017 thu ngan sach dat bao nhieu",
        "tong bi thu nguyen phu trong danh gia hai phong nhu the nao",
        "who is the party secretary",
    ]
    reps = 200
    t0 = time.perf_counter()
    for _ in range(reps):
        for q in questions:
            model.restore(q)
    print(f"questions: {1000 * (time.perf_counter() - t0) / (reps * len(questions)):.3f} ms/question")
    for q in questions:
        print(f"  {q!r} -> {model.restore(q)!r}")
    # Scaling: 50 copies with syllables shuffled inside each sentence, so distinct trigrams grow too.
    rng = random.Random(0)
    big = []
    for _ in range(50):
        for sent in sents:
            words = sent.split()
            rng.shuffle(words)
            big.append(" ".join(words))
    t0 = time.perf_counter()
    big_model = DiacriticRestorer.fit(big)
    big_fit = time.perf_counter() - t0
    big_blob = json.dumps(big_model.to_dict(), ensure_ascii=False)
    t0 = time.perf_counter()
    big_loaded = DiacriticRestorer.from_dict(json.loads(big_blob))
    big_load = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in range(20):
        for q in questions:
            big_loaded.restore(q)
    big_ms = 1000 * (time.perf_counter() - t0) / (20 * len(questions))
    n_big, n_tri = sum(len(tokenize(t)) for t in big), len(big_model.to_dict()["trigrams"]) // 4
    print(
        f"scaling ({n_big} syllables, {n_tri} distinct trigrams): fit {big_fit * 1000:.0f} ms | "
        f"JSON {len(big_blob) / 2**20:.1f} MiB, load {big_load * 1000:.0f} ms | {big_ms:.2f} ms/question"
    )


if __name__ == "__main__":
    main([Path(a) for a in sys.argv[1:]] or [SEED])
