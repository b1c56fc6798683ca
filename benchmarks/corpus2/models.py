"""Tiny PyTorch models of corpus 2, one builder per architecture (CPU, float32)."""

from __future__ import annotations

import torch
from torch import nn


class CharRNN(nn.Module):
    """Char-level LM: embedding -> GRU/LSTM -> linear over the vocabulary."""

    def __init__(self, vocab: int, cell: str, emb: int = 16, hidden: int = 48) -> None:
        super().__init__()
        self.emb = nn.Embedding(vocab, emb)
        rnn = nn.GRU if cell == "gru" else nn.LSTM
        self.rnn = rnn(emb, hidden, batch_first=True)
        self.out = nn.Linear(hidden, vocab)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, _ = self.rnn(self.emb(x))
        return self.out(h)


class CharTransformer(nn.Module):
    """Char-level LM: one pre-norm causal transformer block (d=32, 2 heads)."""

    def __init__(
        self, vocab: int, seq_len: int, d: int = 32, heads: int = 2, layers: int = 1
    ) -> None:
        super().__init__()
        self.emb = nn.Embedding(vocab, d)
        self.pos = nn.Parameter(torch.zeros(1, seq_len, d))
        layer = nn.TransformerEncoderLayer(
            d, heads, dim_feedforward=2 * d, dropout=0.0, batch_first=True, norm_first=True
        )
        self.blocks = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d)
        self.out = nn.Linear(d, vocab)
        self.register_buffer("mask", nn.Transformer.generate_square_subsequent_mask(seq_len))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[1]
        h = self.emb(x) + self.pos[:, :n]
        h = self.blocks(h, mask=self.mask[:n, :n], is_causal=True)
        return self.out(self.norm(h))


class SmallCNN(nn.Module):
    """8x8 digits: conv(8) -> ReLU -> conv(16) -> ReLU -> 2x2 max-pool -> linear(10)."""

    def __init__(self, n_classes: int = 10) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(8, 16, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(16 * 4 * 4, n_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.view(-1, 1, 8, 8))


class SeqRNN(nn.Module):
    """Sequence classifier: an LSTM or GRU over the steps, linear on the last hidden state."""

    def __init__(self, d_in: int, n_classes: int, hidden: int = 32, cell: str = "lstm") -> None:
        super().__init__()
        self.rnn = (nn.GRU if cell == "gru" else nn.LSTM)(d_in, hidden, batch_first=True)
        self.out = nn.Linear(hidden, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, h = self.rnn(x)
        h = h[0] if isinstance(h, tuple) else h  # an LSTM returns (h, c)
        return self.out(h[-1])


class Conv1dClassifier(nn.Module):
    """Sequence classifier: two 1-D convolutions, global average pool, linear."""

    def __init__(self, d_in: int, n_classes: int, hidden: int = 32) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv1d(d_in, hidden, 5, padding=2),
            nn.ReLU(),
            nn.Conv1d(hidden, hidden, 5, padding=2),
            nn.ReLU(),
            nn.AdaptiveAvgPool1d(1),
            nn.Flatten(),
            nn.Linear(hidden, n_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.transpose(1, 2))


class SeqTransformer(nn.Module):
    """Sequence classifier: linear embedding, one post-norm transformer block, mean pool."""

    def __init__(self, d_in: int, n_classes: int, seq_len: int = 32, d: int = 32) -> None:
        super().__init__()
        self.inp = nn.Linear(d_in, d)
        self.pos = nn.Parameter(torch.zeros(1, seq_len, d))
        layer = nn.TransformerEncoderLayer(
            d, 2, dim_feedforward=2 * d, dropout=0.0, batch_first=True
        )
        self.block = nn.TransformerEncoder(layer, 1, enable_nested_tensor=False)
        self.out = nn.Linear(d, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.inp(x) + self.pos[:, : x.shape[1]]
        return self.out(self.block(h).mean(dim=1))


class ResBlock(nn.Module):
    def __init__(self, d: int) -> None:
        super().__init__()
        self.f = nn.Sequential(
            nn.Linear(d, d), nn.BatchNorm1d(d), nn.ReLU(), nn.Linear(d, d), nn.BatchNorm1d(d)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x + self.f(x))


#: Plain MLPs: architecture name → (activation, number of hidden layers).
MLP_ACTIVATIONS: dict[str, tuple[type[nn.Module], int]] = {
    "mlp_leaky": (nn.LeakyReLU, 2),  # negative slope 0.1 (see _mlp)
    "mlp_relu": (nn.ReLU, 2),
    "mlp_tanh": (nn.Tanh, 3),
    "mlp_silu": (nn.SiLU, 2),
    "mlp_elu": (nn.ELU, 2),
    "mlp_softplus": (nn.Softplus, 2),
    "mlp_gelu": (nn.GELU, 2),
}


def _mlp(d_in: int, hidden: int, d_out: int, act: type[nn.Module], depth: int) -> nn.Module:
    """Linear → act, ``depth`` times (``hidden`` wide), then a linear output layer."""
    layers: list[nn.Module] = []
    for i in range(depth):
        layers += [
            nn.Linear(d_in if i == 0 else hidden, hidden),
            act(0.1) if act is nn.LeakyReLU else act(),
        ]
    return nn.Sequential(*layers, nn.Linear(hidden, d_out))


def build(arch: str, d_in: int, d_out: int, seq_len: int = 32, hidden: int = 64) -> nn.Module:
    """The model of an architecture name (see :mod:`.families`)."""
    if arch in ("gru_lm", "lstm_lm"):
        return CharRNN(d_out, arch[:4].rstrip("_"), hidden=hidden)
    if arch == "tfm_lm":
        return CharTransformer(d_out, seq_len)
    if arch == "cnn":
        return SmallCNN(d_out)
    if arch == "linear":
        return nn.Linear(d_in, d_out)
    if arch in ("seq_lstm", "seq_gru"):
        return SeqRNN(d_in, d_out, hidden, arch[4:])
    if arch == "cnn1d":
        return Conv1dClassifier(d_in, d_out, min(hidden, 32))
    if arch == "seq_tfm":
        return SeqTransformer(d_in, d_out)
    if arch == "mlp_deep":  # five ReLU layers with dropout 0.1
        layers: list[nn.Module] = [nn.Linear(d_in, hidden)]
        for _ in range(4):
            layers += [nn.ReLU(), nn.Dropout(0.1), nn.Linear(hidden, hidden)]
        return nn.Sequential(*layers, nn.ReLU(), nn.Linear(hidden, d_out))
    if arch in MLP_ACTIVATIONS:  # hidden layers of one activation, ``hidden`` wide
        act, depth = MLP_ACTIVATIONS[arch]
        return _mlp(d_in, hidden, d_out, act, depth)
    if arch == "autoencoder":
        return nn.Sequential(
            nn.Linear(d_in, hidden),
            nn.Tanh(),
            nn.Linear(hidden, 8),
            nn.Linear(8, hidden),
            nn.Tanh(),
            nn.Linear(hidden, d_in),
        )
    if arch == "bn_resmlp":
        return nn.Sequential(
            nn.Linear(d_in, hidden),
            nn.ReLU(),
            ResBlock(hidden),
            ResBlock(hidden),
            nn.Linear(hidden, d_out),
        )
    raise ValueError(f"unknown architecture {arch!r}")
