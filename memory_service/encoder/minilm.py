"""All-MiniLM-L6-v2 as a plain torch module, so one pass can hand its layer-4 states to the emotion
branch and its last layer to mean pooling. Weights and tokenizer come from the packaged model directory."""

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from tokenizers import Tokenizer
from torch import nn

HIDDEN = 384
HEADS = 12
INTERMEDIATE = 1536
LAYERS = 6
MAX_TOKENS = 256  # sentence-transformers' max_seq_length for this model; longer input is truncated
EPS = 1e-12


class BertLayer(nn.Module):
    """One post-norm BERT layer; attribute names follow the checkpoint's keys after `_rename`."""

    def __init__(self, dropout: float = 0.1) -> None:
        super().__init__()
        self.query = nn.Linear(HIDDEN, HIDDEN)
        self.key = nn.Linear(HIDDEN, HIDDEN)
        self.value = nn.Linear(HIDDEN, HIDDEN)
        self.attn_out = nn.Linear(HIDDEN, HIDDEN)
        self.attn_norm = nn.LayerNorm(HIDDEN, eps=EPS)
        self.inter = nn.Linear(HIDDEN, INTERMEDIATE)
        self.out = nn.Linear(INTERMEDIATE, HIDDEN)
        self.out_norm = nn.LayerNorm(HIDDEN, eps=EPS)
        self.dropout = dropout

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """x: (B, T, H); mask: (B, 1, 1, T) bool, True where a token may be attended to."""
        b, t, _ = x.shape
        p = self.dropout if self.training else 0.0

        def heads(y: torch.Tensor) -> torch.Tensor:
            return y.view(b, t, HEADS, HIDDEN // HEADS).transpose(1, 2)

        a = F.scaled_dot_product_attention(
            heads(self.query(x)), heads(self.key(x)), heads(self.value(x)), attn_mask=mask, dropout_p=p
        )
        a = a.transpose(1, 2).reshape(b, t, HIDDEN)
        x = self.attn_norm(x + F.dropout(self.attn_out(a), p, self.training))
        h = self.out(F.gelu(self.inter(x)))
        return self.out_norm(x + F.dropout(h, p, self.training))


_RENAMES = {
    "attention.self.query": "query",
    "attention.self.key": "key",
    "attention.self.value": "value",
    "attention.output.dense": "attn_out",
    "attention.output.LayerNorm": "attn_norm",
    "intermediate.dense": "inter",
    "output.dense": "out",
    "output.LayerNorm": "out_norm",
}


def _rename(key: str) -> str:
    key = key.replace("encoder.layer.", "layers.")
    for old, new in _RENAMES.items():
        key = key.replace(f".{old}.", f".{new}.")
    return key.replace("embeddings.LayerNorm", "embeddings.norm")


class Embeddings(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.word_embeddings = nn.Embedding(30522, HIDDEN)
        self.position_embeddings = nn.Embedding(512, HIDDEN)
        self.token_type_embeddings = nn.Embedding(2, HIDDEN)
        self.norm = nn.LayerNorm(HIDDEN, eps=EPS)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(input_ids.shape[1], device=input_ids.device)
        x = self.word_embeddings(input_ids) + self.position_embeddings(positions)[None]
        return self.norm(x + self.token_type_embeddings.weight[0])


def attention_mask(mask: torch.Tensor) -> torch.Tensor:
    """(B, T) 0/1 padding mask -> (B, 1, 1, T) bool mask for scaled_dot_product_attention."""
    return mask.bool()[:, None, None, :]


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """sentence-transformers' mean pooling: average of the non-padding token states."""
    m = mask.to(hidden.dtype).unsqueeze(-1)
    return (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)


class MiniLM(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embeddings = Embeddings()
        self.layers = nn.ModuleList(BertLayer() for _ in range(LAYERS))

    @classmethod
    def load(cls, model_dir: Path) -> "MiniLM":
        weights = model_dir / "model.safetensors"
        if not weights.exists():
            raise FileNotFoundError(f"no MiniLM weights at {weights}")
        state = {_rename(k): v for k, v in load_file(str(weights)).items() if not k.startswith("pooler.")}
        state.pop("embeddings.position_ids", None)
        model = cls()
        model.load_state_dict(state)
        return model.eval()

    def forward(self, input_ids: torch.Tensor, mask: torch.Tensor, tap: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Last hidden states and the states after the first `tap` layers, in one pass."""
        attn = attention_mask(mask)
        x = self.embeddings(input_ids)
        tapped = x if tap == 0 else None
        for i, layer in enumerate(self.layers):
            x = layer(x, attn)
            if i + 1 == tap:
                tapped = x
        assert tapped is not None, f"tap {tap} outside 0..{LAYERS}"
        return x, tapped

    def lower(self, input_ids: torch.Tensor, mask: torch.Tensor, tap: int) -> torch.Tensor:
        """Only the first `tap` layers (training caches these frozen states)."""
        attn = attention_mask(mask)
        x = self.embeddings(input_ids)
        for layer in self.layers[:tap]:
            x = layer(x, attn)
        return x


@dataclass(frozen=True)
class Batch:
    input_ids: torch.Tensor
    mask: torch.Tensor


class WordPiece:
    """The model's own fast tokenizer (uncased WordPiece), truncating at MAX_TOKENS like sentence-transformers."""

    def __init__(self, model_dir: Path) -> None:
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.no_padding()

    def ids(self, texts: list[str]) -> list[list[int]]:
        # Lone surrogates (possible in Python str, e.g. from JSON "\\ud800") are not UTF-8 and make the
        # tokenizer raise; replace them so odd Unicode never fails a message.
        clean = [t.encode("utf-8", "replace").decode("utf-8") for t in texts]
        return [e.ids for e in self.tokenizer.encode_batch(clean)]

    @staticmethod
    def pad(ids: list[list[int]]) -> Batch:
        width = max(len(x) for x in ids)
        input_ids = torch.zeros(len(ids), width, dtype=torch.long)
        mask = torch.zeros(len(ids), width, dtype=torch.long)
        for i, row in enumerate(ids):
            input_ids[i, : len(row)] = torch.tensor(row)
            mask[i, : len(row)] = 1
        return Batch(input_ids, mask)

    def __call__(self, texts: list[str]) -> Batch:
        return self.pad(self.ids(texts))
