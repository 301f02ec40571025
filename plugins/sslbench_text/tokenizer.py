"""WordPiece tokenizer trained locally on the pretraining texts, cached on disk.

BERT's tokenizer (Devlin et al., 2019, "BERT: Pre-training of Deep Bidirectional
Transformers for Language Understanding", §3 and appendix A.2; WordPiece from Wu et
al., 2016): BERT normalisation (lowercase, strip accents), ``BertPreTokenizer``
(whitespace and punctuation), WordPiece with ``##`` continuation pieces, special
tokens ``[PAD] [UNK] [CLS] [SEP] [MASK]`` (ids 0–4 in that order, so ``[PAD]`` is 0
as ``BertConfig.pad_token_id`` expects).

Nothing is downloaded: the vocabulary is learned by :mod:`sslbench_text.wordpiece`
(deterministic, unlike ``tokenizers``' own trainer: see that module), the tokenizer built with
the ``tokenizers`` library and wrapped as ``transformers.PreTrainedTokenizerFast``. ``load_or_train_tokenizer``
keys its cache folder by a hash of (corpus fingerprint, settings), so each corpus
is tokenised-for-training once.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

# tokenizers and transformers are imported where a tokenizer is trained or loaded, not here:
# they cost ~1.5 s, and every sslbench command (list, data, a config error) loads this plugin.
if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerFast

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
"""BERT's special tokens; they take ids 0..4 in this order."""

CACHE_FORMAT = 2  # 2: the vocabulary is learned deterministically (wordpiece.py)
"""Bumped when the saved layout or training recipe changes, so old caches are not reused."""


@dataclass(frozen=True)
class TokenizerSettings:
    """How to train the WordPiece vocabulary."""

    vocab_size: int = 8000  # target size incl. special tokens; the trainer keeps every
    # character of the (limited) alphabet, so a tiny corpus/size can end slightly above it
    min_frequency: int = 2  # a merge must occur this often to enter the vocabulary
    lowercase: bool = True  # BERT "uncased": lowercase and strip accents
    limit_alphabet: int = 1000  # most frequent characters kept as single-char pieces (BERT)
    model_max_length: int = 512  # what the wrapped tokenizer reports as its max input length

    def __post_init__(self) -> None:
        if self.vocab_size < len(SPECIAL_TOKENS):
            raise ValueError(
                f"vocab_size={self.vocab_size} is below the {len(SPECIAL_TOKENS)} special "
                f"tokens {list(SPECIAL_TOKENS)}; use vocab_size >= {len(SPECIAL_TOKENS)} (default 8000)"
            )
        if self.min_frequency < 1:
            raise ValueError(f"min_frequency={self.min_frequency} must be >= 1")


def corpus_fingerprint(texts: Sequence[str]) -> str:
    """SHA-256 over the texts in order (length-prefixed, so boundaries count)."""
    digest = hashlib.sha256()
    for text in texts:
        data = text.encode("utf-8")
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.hexdigest()


def tokenizer_cache_key(texts: Sequence[str], settings: TokenizerSettings) -> str:
    """Hex key of (corpus fingerprint, settings, cache format)."""
    payload = {"corpus": corpus_fingerprint(texts), "settings": asdict(settings), "format": CACHE_FORMAT}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def train_wordpiece(
    texts: Sequence[str], settings: TokenizerSettings = TokenizerSettings()
) -> PreTrainedTokenizerFast:
    """Train a BERT-style WordPiece tokenizer on ``texts``.

    The wrapped tokenizer adds ``[CLS] A [SEP]`` / ``[CLS] A [SEP] B [SEP]`` (segment
    ids 0/1) when called with ``add_special_tokens=True``.
    """
    if not any(t.strip() for t in texts):
        raise ValueError(f"texts: cannot train a tokenizer on an empty corpus ({len(texts)} texts, none non-blank)")
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    from sslbench_text.wordpiece import learn_vocabulary

    normalizer = normalizers.BertNormalizer(lowercase=settings.lowercase)
    pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    words: Counter[str] = Counter()
    for text in texts:
        words.update(word for word, _ in pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(text)))
    pieces = learn_vocabulary(words, settings.vocab_size, SPECIAL_TOKENS, settings.min_frequency,
                              settings.limit_alphabet, prefix="##")
    backend = Tokenizer(models.WordPiece({p: i for i, p in enumerate(pieces)}, unk_token="[UNK]",
                                         continuing_subword_prefix="##"))
    backend.normalizer = normalizer
    backend.pre_tokenizer = pre_tokenizer
    cls_id, sep_id = backend.token_to_id("[CLS]"), backend.token_to_id("[SEP]")
    backend.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    backend.decoder = decoders.WordPiece(prefix="##")
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        pad_token="[PAD]",
        unk_token="[UNK]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=settings.model_max_length,
        model_input_names=["input_ids", "token_type_ids", "attention_mask"],
    )


def load_or_train_tokenizer(
    texts: Sequence[str],
    cache_dir: str | Path,
    settings: TokenizerSettings = TokenizerSettings(),
) -> PreTrainedTokenizerFast:
    """Load the tokenizer for (texts, settings) from ``cache_dir``, training it once.

    The folder is ``cache_dir/wordpiece-<key[:16]>``; it is written to a temporary
    folder and renamed into place, so concurrent processes (e.g. ``torchrun`` ranks)
    never read a half-written tokenizer: the first rename wins, the others load it.
    """
    from transformers import PreTrainedTokenizerFast

    target = Path(cache_dir) / f"wordpiece-{tokenizer_cache_key(texts, settings)[:16]}"
    if (target / "tokenizer.json").is_file():
        return PreTrainedTokenizerFast.from_pretrained(str(target))
    tokenizer = train_wordpiece(texts, settings)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".wordpiece-", dir=target.parent))
    tokenizer.save_pretrained(str(staging))
    (staging / "sslbench-settings.json").write_text(json.dumps(asdict(settings), indent=1))
    try:
        os.replace(staging, target)
    except OSError:  # another process renamed its copy first
        shutil.rmtree(staging, ignore_errors=True)
        return PreTrainedTokenizerFast.from_pretrained(str(target))
    return tokenizer


def special_token_ids(tokenizer: PreTrainedTokenizerFast) -> list[int]:
    """Ids that masking and baselines must never pick (pad, unk, cls, sep, mask)."""
    return sorted(set(tokenizer.all_special_ids))


def vocab_fingerprint(tokenizer: PreTrainedTokenizerFast) -> str:
    """SHA-256 of the vocabulary (token → id, sorted): whether two tokenizers give the same ids."""
    vocab = sorted(tokenizer.get_vocab().items())
    return hashlib.sha256(json.dumps(vocab, ensure_ascii=False).encode()).hexdigest()


def load_pretrained_tokenizer(source: str, dataset: str, max_length: int) -> PreTrainedTokenizerFast:
    """A Hugging Face tokenizer (a ``save_pretrained`` folder or a hub id) to tokenise ``dataset`` with,
    as a pretrained encoder's own; it needs BERT's special tokens (pad, unk, cls, sep, mask).

    Raises:
        UsageError: one line naming ``[datasets.<dataset>] tokenizer``.
    """
    from transformers import AutoTokenizer

    from sslbench.errors import UsageError

    where = f"[datasets.{dataset}] tokenizer"
    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
    except Exception as err:  # missing folder, offline hub, unknown format: the library's first line says which
        first = str(err).splitlines()[0] if str(err) else ""
        raise UsageError(f"{where}: cannot load {source!r}: {type(err).__name__}: {first}") from None
    if not getattr(tokenizer, "is_fast", False):
        raise UsageError(f"{where}: {source!r} has no fast tokenizer (tokenizer.json); save it with a fast tokenizer")
    missing = [t for t in ("pad", "unk", "cls", "sep", "mask") if getattr(tokenizer, f"{t}_token_id", None) is None]
    if missing:
        raise UsageError(f"{where}: {source!r} lacks the special tokens {', '.join(missing)} that BERT batches use")
    tokenizer.model_max_length = max_length
    return tokenizer
