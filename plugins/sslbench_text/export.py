"""``ModelSpec.export`` of the BERT encoders: ``save_pretrained`` of the transformer (``config.json``,
``model.safetensors``: ``BertModel`` or ``RobertaPreLayerNormModel`` without a pooler) and of the
dataset's tokenizer, so that ``AutoModel.from_pretrained(DIR)`` with ``AutoTokenizer.from_pretrained(DIR)``
gives sslbench's embeddings, and ``weights = DIR`` loads it back."""
from __future__ import annotations

from pathlib import Path
from typing import Any


def export_bert(encoder: Any, options: Any, dataset: Any, folder: Path) -> dict[str, Any]:
    """Write the model and its tokenizer; return the card's facts (the exact load and pooling code)."""
    encoder.bert.save_pretrained(str(folder))
    dataset.extras["tokenizer"].save_pretrained(str(folder))
    return {"library_name": "transformers", "tags": ["transformers", "bert", "feature-extraction"],
            "weights_license": "", "load": load_code(encoder.pooling, int(dataset.info["max_length"]))}


def load_code(pooling: str, max_length: int) -> str:
    """Python that loads the folder with transformers and embeds texts as sslbench does (``DIR`` = the folder)."""
    pool = ("embedding = hidden[:, 0]  # (B, D): the [CLS] position, sslbench's pooled" if pooling == "cls" else
            "mask = batch[\"attention_mask\"].unsqueeze(-1).to(hidden.dtype)\n"
            "embedding = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)  # (B, D): masked mean, sslbench's pooled")
    return ("import torch\nfrom transformers import AutoModel, AutoTokenizer\n\n"
            'tokenizer = AutoTokenizer.from_pretrained("DIR")\n'
            'model = AutoModel.from_pretrained("DIR").eval()  # its pooler is no part of the encoder: left unused\n'
            f"batch = tokenizer(texts, padding=True, truncation=True, max_length={max_length}, return_tensors=\"pt\")\n"
            "with torch.no_grad():\n    hidden = model(**batch).last_hidden_state  # (B, T, D)\n" + pool)
