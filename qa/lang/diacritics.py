"""Restore Vietnamese diacritics in questions typed without them, from the corpus's own syllables.

A syllable trigram model with interpolated Kneser-Ney smoothing over the indexed texts; each
plain syllable's candidates are the corpus syllables that fold to it; beam Viterbi decodes.

>>> r = DiacriticRestorer.fit(["Bí thư Thành ủy là ai?"])
>>> r.restore("Bi thu thanh uy la ai")
'Bí thư thành ủy là ai'
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import Any

from qa.errors import IndexCorruptError
from qa.lang.text import Token, fold, tokenize

_FORMAT = 1
_BOS, _EOS, _NUM, _BUILTIN_BOS = "<s>", "</s>", "<num>", "<b>"
# Sentence ends split the model's context; commas do not ("Năm 2017, thu ngân sách").
_BOUNDARY = re.compile(r"[.!?;:…\n]")
_BEAM = 24  # (prev2, prev1) states kept per position: exact enough, bounded time on big corpora
# Log-prior for keeping a plain syllable as typed, times (accented share)^3: a fully accented
# question stays as typed, while a half-stripped one (share ~0.4) is still restored (seed, held-out).
_KEEP = 5.0

# Frequent question/function words the corpus may lack. Each phrase counts once, so a corpus
# that has the words outweighs it; a trailing "?" marks phrases that usually end a question.
_BUILTIN = (
    "là ai? | là gì? | là bao nhiêu? | bao nhiêu? | bao nhiêu người | bao nhiêu năm | khi nào? | "
    "lúc nào? | ở đâu? | như thế nào? | thế nào? | tại sao | vì sao | bao giờ? | mấy năm | mấy | "
    "có không? | có phải | được không? | những gì? | những ai? | gồm những gì? | của ai? | "
    "các | và | người | năm | ngày | tháng | đã | sẽ | ở | nào | gì | ai | không | được | có | "
    "là | nhiêu | đâu | của | những | gồm | ai là | ai đã | điều gì? | việc gì? | bao lâu? | diễn ra | "
    "nói về | bao gồm | thuộc | nằm ở | bắt đầu | kết thúc"
)


def _sentences(tokens: list[Token], text: str) -> list[list[int]]:
    """Group token indices into sentences: a boundary mark in the gap between two tokens splits."""
    out: list[list[int]] = []
    cur: list[int] = []
    for i, tok in enumerate(tokens):
        if cur and _BOUNDARY.search(text, tokens[i - 1].end, tok.start):
            out.append(cur)
            cur = []
        cur.append(i)
    if cur:
        out.append(cur)
    return out


def _symbol(tok: Token) -> str:
    """The model's symbol for a token: its normalized syllable, numbers pooled as one class."""
    return _NUM if tok.norm.isdigit() else tok.norm


def _is_key(s: str) -> bool:
    return s.isascii() and s.isalpha()


def _discount(counts: Iterable[int]) -> float:
    """Kneser-Ney discount n1 / (n1 + 2 n2), kept in a sane range for tiny corpora."""
    cc = Counter(c for c in counts if c <= 2)
    n1, n2 = cc[1], cc[2]
    return min(0.9, max(0.3, n1 / (n1 + 2 * n2))) if n1 + n2 else 0.75


def _case_like(typed: str, word: str) -> str:
    if len(typed) > 1 and typed.isupper():
        return word.upper()
    return word[:1].upper() + word[1:] if typed[:1].isupper() else word


class DiacriticRestorer:
    """Trigram syllable model over a corpus; `restore` puts diacritics back on plain syllables."""

    def __init__(self, trigrams: dict[tuple[str, str, str], int]) -> None:
        builtin: Counter[tuple[str, str, str]] = Counter()
        for phrase in _BUILTIN.split("|"):
            words = phrase.replace("?", " " + _EOS).split()
            seq = [_BUILTIN_BOS, _BUILTIN_BOS, *words]
            builtin.update(zip(seq, seq[1:], seq[2:], strict=False))
        self._builtin = builtin  # to_dict subtracts these: it stores the corpus counts only
        # one table (a second, corpus-only copy was a tenth of a served index's memory at 100 k chunks)
        c3: Counter[tuple[str, str, str]] = Counter(trigrams)
        c3.update(builtin)
        self._c3 = c3
        self._ctx3: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])  # total, distinct
        self._n1vw: Counter[tuple[str, str]] = Counter()  # distinct u before (v, w)
        for (u, v, w), c in c3.items():
            ctx = self._ctx3[(u, v)]
            ctx[0] += c
            ctx[1] += 1
            self._n1vw[(v, w)] += 1
        self._ctx2: dict[str, list[int]] = defaultdict(lambda: [0, 0])  # sum N1+(.vw), distinct w
        self._cont: Counter[str] = Counter()  # distinct v before w
        for (v, w), n in self._n1vw.items():
            ctx2 = self._ctx2[v]
            ctx2[0] += n
            ctx2[1] += 1
            self._cont[w] += 1
        self._ctx3.default_factory = self._ctx2.default_factory = None  # lookups must not insert
        self._d3 = _discount(c3.values())
        self._d2 = _discount(self._n1vw.values())
        self._total = len(self._n1vw)
        self._vocab = len(self._cont) + 1
        freq: Counter[str] = Counter()
        for (_, _, w), c in c3.items():
            freq[w] += c
        cands: dict[str, list[str]] = defaultdict(list)
        for w in sorted(freq, key=lambda s: (-freq[s], s)):  # frequent first: ties stay deterministic
            key = fold(w)
            if _is_key(key):
                cands[key].append(w)
        self._cands = dict(cands)

    @classmethod
    def fit(cls, texts: Iterable[str]) -> DiacriticRestorer:
        """Count syllable trigrams of the texts, each sentence padded with `<s> <s> … </s>`."""
        c3: Counter[tuple[str, str, str]] = Counter()
        for text in texts:
            toks = tokenize(text)
            for sent in _sentences(toks, text):
                seq = [_BOS, _BOS, *(_symbol(toks[i]) for i in sent), _EOS]
                c3.update(zip(seq, seq[1:], seq[2:], strict=False))
        return cls(dict(c3))

    def to_dict(self) -> dict[str, Any]:
        """JSON-able corpus counts: a vocabulary and flat [u, v, w, count, …] indices."""
        corpus = {t: c - self._builtin.get(t, 0) for t, c in self._c3.items() if c > self._builtin.get(t, 0)}
        vocab = sorted({s for tri in corpus for s in tri})
        index = {s: i for i, s in enumerate(vocab)}
        flat: list[int] = []
        for (u, v, w), c in sorted(corpus.items()):
            flat += [index[u], index[v], index[w], c]
        return {"format": _FORMAT, "vocab": vocab, "trigrams": flat}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DiacriticRestorer:
        """Rebuild from `to_dict` output; raises IndexCorruptError on anything malformed."""
        try:
            if data["format"] != _FORMAT:
                raise ValueError(f"format {data['format']!r} != {_FORMAT}")
            vocab, flat = data["vocab"], data["trigrams"]
            if len(flat) % 4 or not all(isinstance(s, str) for s in vocab):
                raise ValueError("trigrams length not a multiple of 4 or vocabulary not strings")
            tri = {
                (vocab[flat[i]], vocab[flat[i + 1]], vocab[flat[i + 2]]): int(flat[i + 3])
                for i in range(0, len(flat), 4)
            }
        except (KeyError, IndexError, TypeError, ValueError) as e:
            msg = f"diacritics model: {e!r}; rebuild the index with `qa index build`"
            raise IndexCorruptError(msg) from e
        return cls(tri)

    def _p1(self, w: str) -> float:
        return (self._cont[w] + 0.5) / (self._total + 0.5 * self._vocab)

    def _p2(self, v: str, w: str) -> float:
        ctx = self._ctx2.get(v)
        if ctx is None:
            return self._p1(w)
        n, distinct = ctx
        return (max(self._n1vw[(v, w)] - self._d2, 0.0) + self._d2 * distinct * self._p1(w)) / n

    def _p3(self, u: str, v: str, w: str) -> float:
        ctx = self._ctx3.get((u, v))
        if ctx is None:
            return self._p2(v, w)
        n, distinct = ctx
        return (max(self._c3[(u, v, w)] - self._d3, 0.0) + self._d3 * distinct * self._p2(v, w)) / n

    def restore(self, question: str) -> str:
        """Replace plain ASCII syllables by their likeliest accented forms; everything else stays."""
        toks = tokenize(question)
        letters = [t for t in toks if _is_key(t.folded)]
        accented = sum(1 for t in letters if t.norm != t.folded)
        # The more of the question already carries marks, the likelier its plain syllables are meant.
        keep = _KEEP * (accented / len(letters)) ** 3 if letters else 0.0
        out, last = [], 0
        for sent in _sentences(toks, question):
            options: list[list[tuple[str, float]]] = []
            for i in sent:
                text = question[toks[i].start : toks[i].end]
                cands = self._cands.get(toks[i].folded, []) if _is_key(text) else []
                plain = text.lower()
                opts = [(c, keep if c == plain else 0.0) for c in cands]
                if keep and cands and plain not in cands:  # maybe typed plain on purpose: corpus lacks it
                    opts.append((plain, keep))
                options.append(opts or [(_symbol(toks[i]), 0.0)])
            for i, word in zip(sent, self._decode(options), strict=True):
                text = question[toks[i].start : toks[i].end]
                if _is_key(text) and word != text.lower():
                    out += [question[last : toks[i].start], _case_like(text, word)]
                    last = toks[i].end
        return "".join(out) + question[last:]

    def _decode(self, options: list[list[tuple[str, float]]]) -> list[str]:
        """Beam Viterbi over (prev2, prev1) states; log scores, deterministic tie order."""
        beam: dict[tuple[str, str], tuple[float, tuple[str, ...]]] = {(_BOS, _BOS): (0.0, ())}
        for opts in options:
            nxt: dict[tuple[str, str], tuple[float, tuple[str, ...]]] = {}
            for (u, v), (score, path) in beam.items():
                for w, bonus in opts:
                    s = score + bonus + math.log(self._p3(u, v, w))
                    if (v, w) not in nxt or s > nxt[(v, w)][0]:
                        nxt[(v, w)] = (s, (*path, w))
            beam = dict(sorted(nxt.items(), key=lambda kv: -kv[1][0])[:_BEAM])
        best = max(beam.items(), key=lambda kv: kv[1][0] + math.log(self._p3(kv[0][0], kv[0][1], _EOS)))
        return list(best[1][1])
