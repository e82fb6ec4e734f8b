"""Tiny CLIP-like text transformer: causal self-attention, final LayerNorm, EOS pooling."""
import torch
import torch.nn as nn

from attention import Attention

MAX_POSITIONS = 77


class EncoderLayer(nn.Module):
    def __init__(self, dim, heads, ff_mult=4):
        super().__init__()
        self.ln1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads)
        self.ln2 = nn.LayerNorm(dim)
        self.ff = nn.Sequential(nn.Linear(dim, dim * ff_mult), nn.GELU(), nn.Linear(dim * ff_mult, dim))

    def forward(self, x, mask):
        x = x + self.attn(self.ln1(x), mask=mask)
        return x + self.ff(self.ln2(x))


class TextEncoder(nn.Module):
    def __init__(self, vocab_size, dim=128, layers=3, heads=4):
        super().__init__()
        self.config = dict(vocab_size=vocab_size, hidden_size=dim, num_hidden_layers=layers,
                           num_attention_heads=heads, intermediate_size=dim * 4,
                           max_position_embeddings=MAX_POSITIONS)
        self.token_embedding = nn.Embedding(vocab_size, dim)
        self.position_embedding = nn.Parameter(torch.randn(MAX_POSITIONS, dim) * 0.01)
        self.layers = nn.ModuleList([EncoderLayer(dim, heads) for _ in range(layers)])
        self.final_layer_norm = nn.LayerNorm(dim)
        # CLIP's causal mask: token i only sees tokens <= i (so padding never leaks backwards).
        causal = torch.full((MAX_POSITIONS, MAX_POSITIONS), float("-inf")).triu(1)
        self.register_buffer("causal_mask", causal, persistent=False)

    def forward(self, input_ids):
        """input_ids int32/int64 [B, 77] -> (last_hidden_state [B, 77, D], pooler_output [B, D])."""
        x = self.token_embedding(input_ids.long()) + self.position_embedding
        for layer in self.layers:
            x = layer(x, self.causal_mask)
        x = self.final_layer_norm(x)
        # pooler_output: the hidden state at the first EOS (EOS has the highest id), as in HF CLIP;
        # argmax over int32 because onnxruntime's ArgMax has no int64 kernel.
        eos = input_ids.to(torch.int32).argmax(dim=-1)
        pooled = x[torch.arange(x.shape[0]), eos]
        return x, pooled
