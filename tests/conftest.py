"""Shared fixtures: a fast deterministic fake encoder and a small Vietnamese corpus."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pytest

# Tests never touch the network: the hub path must fail fast instead of downloading.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # subprocess tests fork after tokenizing

REPO = Path(__file__).resolve().parent.parent
SEED = REPO / "seeds" / "000_1ba926b528c724f1.txt"


def seed_service(root: Path):  # type: ignore[no-untyped-def]
    """A service over the seed article in `root` (docs/ and index/ made there), on the fake encoder."""
    import shutil

    from qa.config import Settings
    from qa.startup import open_service

    (root / "docs").mkdir()
    shutil.copy(SEED, root / "docs" / SEED.name)
    return open_service(Settings(docs_dir=root / "docs", index_dir=root / "index", auto_build="missing"),
                        encoder=FakeEncoder(), progress=False, log=lambda m: None)


class FakeEncoder:
    """Bag of folded syllables and syllable bigrams hashed into 64 dims, L2-normalized.

    Close enough to a real model for ranking tests: shared words -> higher cosine.
    """

    name = "fake-encoder"
    dimension = 64
    profile = "none"

    def __init__(self) -> None:
        self.calls = 0
        self.encoded = 0

    def _vec(self, text: str) -> np.ndarray:
        from qa.lang.text import terms

        toks = terms(text, folded=True)
        feats = toks + [a + "_" + b for a, b in zip(toks, toks[1:], strict=False)]
        v = np.zeros(self.dimension, dtype=np.float32)
        for f in feats:
            h = int.from_bytes(hashlib.blake2b(f.encode(), digest_size=4).digest(), "little")
            v[h % self.dimension] += 1.0 if (h >> 16) & 1 else -1.0
        n = np.linalg.norm(v)
        return v / n if n else v

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        self.calls += 1
        self.encoded += len(texts)
        return np.stack([self._vec(t) for t in texts]) if texts else np.zeros((0, self.dimension), "float32")

    def encode_documents(self, texts: list[str], progress: bool = False) -> np.ndarray:
        return self.encode_queries(texts)


@pytest.fixture
def fake_encoder() -> FakeEncoder:
    return FakeEncoder()


SMALL_CORPUS = {
    "haiphong.txt": (
        "Hải Phòng là thành phố cảng lớn ở miền Bắc Việt Nam. "
        "Thành phố có cảng biển quan trọng và ngành công nghiệp phát triển.\n\n"
        "Năm 2017, thu ngân sách của thành phố ước đạt trên 70 nghìn tỷ đồng."
    ),
    "hanoi.md": (
        "# Hà Nội\n\nHà Nội là thủ đô của Việt Nam. "
        "Hồ Hoàn Kiếm nằm ở trung tâm thành phố.\n\n"
        "Phố cổ Hà Nội có 36 phố phường."
    ),
    "hue.txt": "Huế là cố đô của Việt Nam. Sông Hương chảy qua thành phố Huế.",
}


@pytest.fixture
def small_docs(tmp_path: Path) -> Path:
    """A docs folder with three short Vietnamese documents."""
    d = tmp_path / "docs"
    d.mkdir()
    for name, text in SMALL_CORPUS.items():
        (d / name).write_text(text, encoding="utf-8")
    return d


class FakeTokenizer:
    """Whitespace tokens with character offsets, ids from a hash: enough for reader windows."""

    cls_token_id, sep_token_id, pad_token_id = 0, 2, 1

    def _one(self, text: str, offsets: bool) -> tuple[list[int], list[tuple[int, int]]]:
        import re

        spans = [(m.start(), m.end()) for m in re.finditer(r"\S+", text)]
        ids = [5 + int.from_bytes(hashlib.blake2b(text[a:b].encode(), digest_size=2).digest(), "little") % 990
               for a, b in spans]
        return ids, spans

    def __call__(self, text: str | list[str], add_special_tokens: bool = False,
                 return_offsets_mapping: bool = False) -> dict[str, object]:
        many = isinstance(text, list)
        outs = [self._one(t, return_offsets_mapping) for t in (text if many else [text])]
        res: dict[str, object] = {"input_ids": [o[0] for o in outs] if many else outs[0][0]}
        if return_offsets_mapping:
            res["offset_mapping"] = [o[1] for o in outs] if many else outs[0][1]
        return res


@pytest.fixture
def fake_tokenizer() -> FakeTokenizer:
    return FakeTokenizer()


class FakeReader:
    """Reads, in each passage, the sentence sharing most of the question's words (folded) — with the
    passage's heading, as the real reader reads it — and takes its last word as the answer; the margin
    is that share, centred (an unrelated passage scores below 0). `calls` counts passages read."""

    def __init__(self) -> None:
        self.calls = 0

    def read(self, question: str, passages):  # type: ignore[no-untyped-def]
        import re

        from qa.lang.text import fold
        from qa.reader.phrase import tidy_phrase
        from qa.reader.read import Reading, sigmoid

        words = set(fold(question).split())
        out = []
        for p in passages:
            self.calls += 1
            head = set(fold(p.text[p.heading[0] : p.heading[1]]).split()) if p.heading else set()
            if not p.sentences:
                out.append(Reading(0, 0, float("-inf"), 0.0, 0.0, (0, 0)))
                continue
            shares = [len(words & (head | set(fold(p.text[a:b]).split()))) / max(1, len(words))
                      for a, b in p.sentences]
            k = max(range(len(shares)), key=lambda i: shares[i])
            a, b = p.sentences[k]
            last = list(re.finditer(r"\S+", p.text[a:b]))[-1]
            s, e = tidy_phrase(p.text, a + last.start(), a + last.end())
            margin = 8 * shares[k] - 3
            out.append(Reading(s, e, margin, 0.0, sigmoid(margin), (p.sentences[0][0], p.sentences[-1][1])))
        return out


def fake_reader_choice():  # type: ignore[no-untyped-def]
    """The fake reader with the neutral decision (logit = margin): what answers in most tests."""
    from qa.answer.decide import Decision
    from qa.startup import ReaderChoice

    return ReaderChoice(FakeReader(), Decision.neutral(), "reader (fake)")


@pytest.fixture(autouse=True)
def _fake_reader_for_fake_encoders(monkeypatch: pytest.MonkeyPatch) -> None:
    """A service on the fake encoder answers with the fake reader, as the product answers with the real
    one: the tests exercise the path users get (the sentence rules only where a test asks for them)."""
    import qa.startup

    real = qa.startup.load_reader

    def load(settings, encoder, log=print, trace=True):  # type: ignore[no-untyped-def]
        if isinstance(encoder, FakeEncoder) and settings.reader != "off":
            return fake_reader_choice()
        return real(settings, encoder, log, trace=trace)

    monkeypatch.setattr(qa.startup, "load_reader", load)


@pytest.fixture(scope="session")
def real_service(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """The seed article served with the real embedded model and the shipped reader (offline), once per session."""
    import shutil

    from qa.config import Settings
    from qa.startup import open_service

    seed = Path(__file__).resolve().parent.parent / "seeds" / "000_1ba926b528c724f1.txt"
    root = tmp_path_factory.mktemp("seed")
    (root / "seeds").mkdir()
    shutil.copy(seed, root / "seeds" / seed.name)
    return open_service(Settings(root / "seeds", root / "index", auto_build="missing"), progress=False,
                        log=lambda m: None)
