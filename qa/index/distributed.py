"""Index building spread over a Ray cluster: the model's work runs in Ray Data actors.

    qa index build --ray                       # ray.init() with this machine's cores
    qa index build --ray ray://head:10001      # a Ray cluster (each node: pip install "qa-vi[scale]")

Only embedding moves (it is almost all of a build's time); reading, chunking, BM25 weights and
writing to the backend stay in the driver. The texts are exactly those `encode_chunks` would encode
(each distinct sentence once, plus the chunks in `both` mode), longest first so batches pad little;
a pool of actors, each holding one model, encodes whole batches, and every vector comes back with its
text's id, so the order batches finish in does not matter. The vectors then go through
`encode_chunks` itself (looked up instead of encoded), so chunk vectors, sentence order and
de-duplication are the local build's: the same index, up to float rounding from other batch
compositions.

Workers load the model from `RayOptions.model` (the CLI passes the configured `ModelOptions`: the
embedded default needs no network on any node), or get the driver's encoder object by value when no
options are given (tests: the fake encoder).
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

import numpy as np

from qa.errors import ConfigError, QAError
from qa.index.vectors import Progress, check_mode, encode_chunks
from qa.model.encoder import Encoder, ModelOptions, load_encoder
from qa.schema import Chunk, Document


@dataclass(frozen=True)
class RayOptions:
    """Embedding with Ray Data: the cluster, and the model each worker loads."""

    address: str = "local"  # "local" = ray.init() on this machine's cores, else a cluster address
    model: ModelOptions | None = None  # None: the driver's encoder object is shipped to the workers
    batch_size: int = 64


def _load_worker_encoder(options: ModelOptions, threads: int) -> Encoder:
    return load_encoder(replace(options, threads=threads))


def _same(encoder: Encoder) -> Encoder:
    return encoder


class _Embedder:
    """One model per actor; encodes whole batches of {id, text} into {id, vector}."""

    def __init__(self, factory: Any) -> None:
        self.encoder = factory()

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        texts = [str(t) for t in batch["text"]]
        return {"id": batch["id"], "vector": self.encoder.encode_documents(texts)}


class _Lookup:
    """An `Encoder` that returns vectors computed elsewhere, so `encode_chunks` assembles them as usual."""

    def __init__(self, encoder: Encoder, vectors: dict[str, np.ndarray]) -> None:
        self.name, self.dimension, self.profile = encoder.name, encoder.dimension, encoder.profile
        self.vectors = vectors

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError("only document vectors come from the cluster")

    def encode_documents(self, texts: list[str], progress: bool = False) -> np.ndarray:
        return np.stack([self.vectors[t] for t in texts]) if texts else np.zeros((0, self.dimension), np.float32)


def texts_to_encode(docs: dict[str, Document], chunks: list[Chunk], mode: str) -> list[str]:
    """The distinct texts `encode_chunks` sends through the model, in its order."""
    sent_texts = [docs[c.doc_id].text[s:e] for c in chunks for s, e in c.sentences]
    own = [c.text for c in chunks] if mode != "sentences" else []
    return list(dict.fromkeys(own + list(dict.fromkeys(sent_texts))))


def start_ray(address: str) -> Any:
    """`ray.init` for an address ("local": this machine); QAError naming the fix when it fails."""
    try:
        import ray  # optional dependency (the scale extra)
    except ImportError as e:
        raise QAError("--ray needs the ray package; run `pip install -e \".[scale]\"`") from e
    if not ray.is_initialized():
        try:
            ray.init(address=None if address == "local" else address, include_dashboard=False,
                     log_to_driver=False, logging_level=logging.ERROR, configure_logging=False)
        except Exception as e:  # ConnectionError, RuntimeError, ValueError depending on the address form
            raise QAError(f"cannot start or join the Ray cluster at {address!r} ({e.__class__.__name__}: "
                          f"{str(e)[:160]}); start one with `ray start --head` or fix --ray ADDRESS") from e
    return ray


def embed_texts(encoder: Encoder, texts: list[str], options: RayOptions,
                progress: Progress | None = None) -> np.ndarray:
    """Vectors of `texts` (rows in input order) computed by a pool of Ray Data actors."""
    dim = encoder.dimension
    out = np.zeros((len(texts), dim), dtype=np.float32)
    if not texts:
        return out
    if options.model is not None and options.model.model != encoder.name:
        raise ConfigError(f"--ray workers would load {options.model.model!r} but the index is built with "
                          f"{encoder.name!r}; pass the same --model")
    ray = start_ray(options.address)
    from ray.data import DataContext  # optional dependency (the scale extra), imported when a build uses it

    ctx = DataContext.get_current()
    ctx.enable_progress_bars = False  # ours is shown instead
    ctx.print_on_execution_start = False
    logging.getLogger("ray.data").setLevel(logging.WARNING)  # per-run INFO lines
    cpus = int(ray.cluster_resources().get("CPU", 1))
    actors = max(1, cpus)
    if options.model is not None:
        factory: Any = partial(_load_worker_encoder, options.model, 1)
    else:
        module = sys.modules.get(type(encoder).__module__)
        if module is not None and not module.__name__.startswith("qa."):
            # an encoder class from outside the package (a test's fake) may not import on a worker
            ray.cloudpickle.register_pickle_by_value(module)
        factory = partial(_same, encoder)
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))  # longest first: batches pad little
    items = [{"id": i, "text": texts[i]} for i in order]
    b = options.batch_size
    blocks = max(1, min(len(items), max(actors, min(-(-len(items) // b), 8 * actors))))  # every actor busy
    ds = ray.data.from_items(items, override_num_blocks=blocks)
    ds = ds.map_batches(_Embedder, fn_constructor_kwargs={"factory": factory}, batch_size=b,
                        batch_format="numpy", num_cpus=1,
                        # a fixed pool of `actors` model holders (Ray ≥ 2.51 deprecates `concurrency=`)
                        compute=ray.data.ActorPoolStrategy(size=actors))
    done = 0
    try:
        for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
            vec = np.asarray(batch["vector"], dtype=np.float32)
            if vec.ndim != 2 or vec.shape[1] != dim:
                raise QAError(f"Ray workers returned {vec.shape[-1]}-dimensional vectors for a {dim}-dimensional "
                              "model; install the same qa-vi and model on every node")
            out[np.asarray(batch["id"], dtype=np.int64)] = vec
            done += len(vec)
            if progress:
                progress(done, len(texts))
    except QAError:
        raise
    except Exception as e:  # a worker's exception arrives wrapped (RayTaskError and friends)
        raise QAError(f"embedding on the Ray cluster failed ({e.__class__.__name__}: {str(e)[:300]}); "
                      "check that every node has qa-vi[scale] installed and the model available") from e
    if done != len(texts):
        raise QAError(f"the Ray cluster returned {done} of {len(texts)} vectors; run the build again")
    return out


def encode_chunks_ray(encoder: Encoder, docs: dict[str, Document], chunks: list[Chunk], options: RayOptions,
                      progress: Progress | None = None, mode: str = "sentences") -> tuple[np.ndarray, np.ndarray]:
    """`encode_chunks(...)` with the model's work done by a Ray cluster: (chunk vectors, sentence vectors)."""
    mode = check_mode(mode)
    if mode == "chunks":
        raise ConfigError("QA_ENCODE=chunks pools sentence vectors from one pass over each chunk, which --ray "
                          "does not distribute; use QA_ENCODE=sentences (the default) or both with --ray")
    texts = texts_to_encode(docs, chunks, mode)
    vectors = embed_texts(encoder, texts, options, progress)
    lookup = _Lookup(encoder, dict(zip(texts, vectors, strict=True)))
    return encode_chunks(lookup, docs, chunks, None, mode=mode)
