"""BERT encoders from outside weights (the ``weights`` option of ``bert-tiny`` / ``-mini`` / ``-small``).

Sources: a ``save_pretrained`` folder (``config.json`` + ``model.safetensors``, as
``transformers`` and ``sslbench export`` write it), a Hugging Face Hub id (``org/name`` or
``hf-hub:org/name``, fetched with ``huggingface_hub.snapshot_download``), or a bare
``.safetensors`` file of ``BertModel``'s tensors (the architecture then comes from the name
and the dataset). The folder's config must be the model's: BERT (``norm = "post"``) or
pre-LN RoBERTa (``"pre"``), of the name's hidden size and depth — else one line.

Token ids must mean what the weights learned: a folder that brings its tokenizer is used
only when the dataset is tokenised with that same tokenizer (``[datasets.X] tokenizer =`` the
same source; :func:`sslbench_text.tokenizer.load_pretrained_tokenizer`); a mismatch of
vocabulary is refused with that fix. Heads (``pooler.``, ``cls.``, ``lm_head.``) and a
``bert.`` prefix (``BertForPreTraining`` checkpoints) are dropped, as ``from_pretrained`` does.
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sslbench import ModelContext
from sslbench.errors import WeightsError
from sslbench.weights import CONFIG_FILE, HUB_PREFIX, check_fit, mark, read_state_dict, resolve
from sslbench_text.models import BERT_SIZES, BertTextEncoder, bert_config
from sslbench_text.options import BertOptions

HEADS = ("pooler.", "cls.", "lm_head.")
PREFIXES = ("bert.", "roberta_prelayernorm.")
TOKENIZER_FILES = ("tokenizer.json", "vocab.txt")


def build_bert_from_weights(ctx: ModelContext, options: BertOptions, name: str, info: Mapping[str, int]) -> BertTextEncoder:
    """``bert-*`` with ``weights`` set: the encoder of those weights, strictly loaded; see the module docstring."""
    where = f"[models.{name}] weights"
    path = Path(options.weights).expanduser()
    if path.is_file():
        config = bert_config(name, info["vocab_size"], max_positions=info["max_length"], dropout=options.dropout,
                             pad_token_id=info["pad_token_id"], norm=options.norm)
    else:
        path = path if path.is_dir() else hub_folder(options.weights, where)
        config = _folder_config(path, name, options, where)
        _check_tokens(path, config, ctx, info, options.weights, where)
    weights = resolve(str(path), where)
    encoder = BertTextEncoder(config, pooling=options.pooling)
    state = encoder_keys(read_state_dict(weights, where), encoder.bert.state_dict())
    check_fit(encoder.bert.state_dict(), state, where)
    encoder.bert.load_state_dict(state, strict=True)
    return mark(encoder, weights)


def hub_folder(source: str, where: str) -> Path:
    """A hub id's files (config, safetensors, tokenizer) in ``huggingface_hub``'s cache."""
    repo = source[len(HUB_PREFIX):] if source.startswith(HUB_PREFIX) else source
    local = source.startswith(("/", ".", "~")) or Path(source).parent.is_dir()
    if repo.count("/") != 1 or (local and not source.startswith(HUB_PREFIX)):
        raise WeightsError(f"{where}: {source!r} is no file or folder here, and no hub id (org/name)")
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(repo, allow_patterns=["*.json", "*.safetensors", "*.txt"]))
    except Exception as err:  # offline, unknown repository: the library's first line says which
        raise WeightsError(f"{where}: cannot fetch hub repository {repo!r}: {type(err).__name__}: "
                           f"{str(err).splitlines()[0] if str(err) else ''}") from None


def _folder_config(folder: Path, name: str, options: BertOptions, where: str) -> Any:
    from transformers import AutoConfig, BertConfig, RobertaPreLayerNormConfig

    if not (folder / CONFIG_FILE).is_file():
        raise WeightsError(f"{where}: folder {str(folder)!r} has no {CONFIG_FILE}; save it with save_pretrained")
    config = AutoConfig.from_pretrained(str(folder))
    wanted = BertConfig if options.norm == "post" else RobertaPreLayerNormConfig
    if type(config) is not wanted:
        raise WeightsError(f"{where}: the folder holds a {config.model_type!r} model; norm = {options.norm!r} "
                           f"takes {wanted.model_type!r} (set norm = \"pre\" for roberta-prelayernorm)")
    size = BERT_SIZES[name]
    if (config.hidden_size, config.num_hidden_layers) != (size.hidden, size.layers):
        fits = [n for n, s in BERT_SIZES.items() if (s.hidden, s.layers) == (config.hidden_size, config.num_hidden_layers)]
        raise WeightsError(f"{where}: the weights are {config.hidden_size} wide and {config.num_hidden_layers} deep, "
                           f"{name} is {size.hidden} × {size.layers}" + (f"; use model {fits[0]}" if fits else ""))
    config.hidden_dropout_prob = config.attention_probs_dropout_prob = options.dropout
    return config


def _check_tokens(folder: Path, config: Any, ctx: ModelContext, info: Mapping[str, int], source: str, where: str) -> None:
    """The dataset's token ids must be the weights' own: same vocabulary, positions enough."""
    fix = f"set [datasets.{ctx.dataset}] tokenizer = {source!r} so the text is tokenised with the weights' tokenizer"
    if any((folder / f).is_file() for f in TOKENIZER_FILES):
        from transformers import AutoTokenizer

        from sslbench_text.tokenizer import vocab_fingerprint

        if vocab_fingerprint(AutoTokenizer.from_pretrained(str(folder))) != ctx.info.get("tokenizer_vocab_sha256"):
            raise WeightsError(f"{where}: the weights come with their own tokenizer and dataset {ctx.dataset!r} is "
                               f"tokenised with another; {fix}")
    if config.vocab_size != info["vocab_size"]:
        raise WeightsError(f"{where}: the weights have {config.vocab_size} token embeddings, dataset "
                           f"{ctx.dataset!r}'s tokenizer {info['vocab_size']} ids; {fix}")
    offset = 0 if config.model_type == "bert" else config.pad_token_id + 1
    if info["max_length"] + offset > config.max_position_embeddings:
        raise WeightsError(f"{where}: the weights know {config.max_position_embeddings - offset} positions; set "
                           f"[datasets.{ctx.dataset}] max_length <= that")


def encoder_keys(state: Mapping[str, Any], own: Mapping[str, Any]) -> dict[str, Any]:
    """A checkpoint's tensors as ``BertModel``'s (no pooler): prefix and heads dropped; buffers the
    model does not keep (old ``position_ids``) dropped."""
    out = {}
    for key, value in state.items():
        for prefix in PREFIXES:
            if key.startswith(prefix):
                key = key[len(prefix):]
                break
        if key.startswith(HEADS) or (key.endswith(("position_ids", "token_type_ids")) and key not in own):
            continue
        out[key] = value
    return out
