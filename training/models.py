"""Sentiment classifiers over right-padded token ids, small parts first, the whole model last.

Input: `input_ids` int64 [B, T], 0 = padding, every row at least one real token.
Output: logits float32 [B, C].

Padding never changes a row's result: the forward recurrence runs over right padding, which comes
after every real token; the backward recurrence reads each row reversed within its own length, so
it too meets the padding only after the real tokens; pooling masks the padding out. Both export as
standard ONNX recurrent ops with no `sequence_lens` input, and train at full speed (packed
sequences make the backward pass ~10x slower on CPU).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from training.config import ARCHITECTURES

RECURRENT = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}
# Multipliers for hashing n-grams of ids; int64 arithmetic, identical in torch and ONNX Runtime.
_HASH_MULTIPLIERS = (
    1,
    1_000_003,
    998_244_353,
    1_000_000_007,
    999_999_937,
    1_000_000_009,
    999_999_929,
    1_000_000_021,
)  # up to order 8; products of code points (< 2^21) with these stay far inside int64
MAX_NGRAM_ORDER = len(_HASH_MULTIPLIERS)


@dataclass(frozen=True)
class ModelSpec:
    """Everything needed to rebuild the network; saved with every checkpoint."""

    vocab_size: int
    num_labels: int
    arch: str = "lstm"
    embed_dim: int = 128
    hidden_dim: int = 128
    num_layers: int = 1
    bidirectional: bool = True
    cnn_channels: int = 128
    cnn_kernel: int = 3
    cnn_stride: int = 1  # > 1: the recurrence reads every stride-th window (fewer steps)
    dropout: float = 0.3
    embed_dropout: float = 0.1
    ngram_buckets: int = 0  # 0 = no n-gram member
    ngram_order: int = 3  # token n-grams of order 1..this
    char_order: int = 0  # character n-grams of order 1..this; 0 = none
    char_width: int = 12  # characters kept per token for character n-grams
    members: int = 1  # independently trained recurrent members (a small ensemble in one graph)
    share_embedding: bool = False  # members reuse the first member's embedding (frozen after it)
    char_members: int = 0  # of the members, how many (the last ones) read characters, not tokens
    char_vocab: int = 4096  # character buckets of those members (code point modulo this, 0 = pad)


def padding_mask(input_ids: Tensor) -> Tensor:
    """[B, T] bool, True on real tokens."""
    return input_ids != 0


def reverse_within_length(x: Tensor, lengths: Tensor) -> Tensor:
    """Reverse each row's first `length` steps of x [B, T, D]; padding stays where it is."""
    steps = torch.arange(x.size(1), device=x.device).unsqueeze(0)  # [1, T]
    source = lengths.unsqueeze(1) - 1 - steps  # [B, T]
    source = torch.where(source >= 0, source, steps)
    return x.gather(1, source.unsqueeze(-1).expand_as(x))


def masked_max_mean(x: Tensor, mask: Tensor) -> Tensor:
    """Pool x [B, T, D] over real steps only -> [B, 2D] (max then mean)."""
    keep = mask.unsqueeze(-1)
    lowest = torch.finfo(x.dtype).min
    maxed = x.masked_fill(~keep, lowest).amax(dim=1)
    mean = (x * keep).sum(dim=1) / keep.sum(dim=1).clamp(min=1)
    return torch.cat([maxed, mean], dim=-1)


class ConvFrontEnd(nn.Module):
    """1-D convolution over embeddings ('same' padding); the pad embedding is zero, so a row's
    real steps see the same zeros at their end whether or not the batch adds padding.

    With `stride` s > 1 output step j is centred on input step j*s, so a row of L tokens gives
    ceil(L / s) steps whatever the batch's padding, and the recurrence after it runs s times
    fewer steps."""

    def __init__(self, in_dim: int, channels: int, kernel: int, stride: int = 1) -> None:
        super().__init__()
        if kernel % 2 == 0:
            raise ValueError("cnn_kernel must be odd so 'same' padding is symmetric")
        if stride < 1 or stride > kernel:
            raise ValueError("cnn_stride must be between 1 and cnn_kernel (no token skipped)")
        self.stride = stride
        self.conv = nn.Conv1d(in_dim, channels, kernel, stride=stride, padding=kernel // 2)

    def forward(self, x: Tensor, mask: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """(steps [B, T', C], their mask [B, T'], their lengths [B])."""
        x = x * mask.unsqueeze(-1)  # keep pads at zero even after embedding dropout
        y = torch.relu(self.conv(x.transpose(1, 2))).transpose(1, 2)
        if self.stride > 1:
            lengths = torch.div(lengths + self.stride - 1, self.stride, rounding_mode="floor")
            steps = torch.arange(y.size(1), device=y.device).unsqueeze(0)
            mask = steps < lengths.unsqueeze(1)
        return y * mask.unsqueeze(-1), mask, lengths


class RecurrentLayer(nn.Module):
    """One layer: a forward recurrence, and optionally one reading each row reversed."""

    def __init__(self, kind: str, in_dim: int, hidden: int, bidirectional: bool) -> None:
        super().__init__()
        cell = RECURRENT[kind]
        self.forward_rnn = cell(in_dim, hidden, batch_first=True)
        self.backward_rnn = cell(in_dim, hidden, batch_first=True) if bidirectional else None

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        out, _ = self.forward_rnn(x)  # [B, T, H]
        if self.backward_rnn is None:
            return out
        back, _ = self.backward_rnn(reverse_within_length(x, lengths))
        return torch.cat([out, reverse_within_length(back, lengths)], dim=-1)  # [B, T, 2H]


class RecurrentMember(nn.Module):
    """Embedding -> (conv) -> recurrent layers -> masked max+mean pooling -> logits."""

    def __init__(self, spec: ModelSpec, embedding: nn.Embedding | None = None) -> None:
        super().__init__()
        kind = "lstm" if spec.arch == "cnn_lstm" else spec.arch
        self.embedding = embedding or nn.Embedding(spec.vocab_size, spec.embed_dim, padding_idx=0)
        self.embed_dropout = nn.Dropout(spec.embed_dropout)
        self.conv = None
        width = spec.embed_dim
        if spec.arch == "cnn_lstm":
            self.conv = ConvFrontEnd(
                spec.embed_dim, spec.cnn_channels, spec.cnn_kernel, spec.cnn_stride
            )
            width = spec.cnn_channels
        layers = []
        for _ in range(spec.num_layers):
            layers.append(RecurrentLayer(kind, width, spec.hidden_dim, spec.bidirectional))
            width = spec.hidden_dim * (2 if spec.bidirectional else 1)
        self.layers = nn.ModuleList(layers)
        self.dropout = nn.Dropout(spec.dropout)
        self.classifier = nn.Linear(2 * width, spec.num_labels)

    def forward(self, input_ids: Tensor, mask: Tensor, lengths: Tensor) -> Tensor:
        x = self.embed_dropout(self.embedding(input_ids))  # [B, T, E]
        if self.conv is not None:
            x, mask, lengths = self.conv(x, mask, lengths)
        for layer in self.layers:
            x = (
                self.dropout(layer(x, lengths))
                if layer is not self.layers[-1]
                else layer(x, lengths)
            )
        return self.classifier(self.dropout(masked_max_mean(x, mask)))


def hash_ngrams(input_ids: Tensor, mask: Tensor, order: int, buckets: int, salt: int = 0) -> Tensor:
    """Hash every n-gram (n = 1..order) of ids into [0, buckets); [B, order*T] int64.

    N-grams that run into padding get the sentinel `buckets`, whose weight row stays zero. The
    arithmetic is plain int64 (Mul, Add, Mod in ONNX), so serving reproduces it exactly.
    """
    steps = input_ids.size(1)
    ids = nn.functional.pad(input_ids, (0, order - 1))  # [B, T + order - 1]
    real = nn.functional.pad(mask, (0, order - 1))
    running = torch.zeros_like(input_ids)
    hashed = []
    for n in range(order):
        running = running + ids[:, n : n + steps] * _HASH_MULTIPLIERS[n]
        # a prime offset per order (and per kind, via salt) so that the unigram "a" and the
        # bigram "a <pad-hash 0>" or a character n-gram with the same sum land in different buckets
        bucket = (running + (n + salt) * 7_919) % buckets
        hashed.append(torch.where(real[:, n : n + steps], bucket, torch.full_like(bucket, buckets)))
    return torch.cat(hashed, dim=1)


def character_sequence(input_ids: Tensor, token_chars: Tensor) -> tuple[Tensor, Tensor]:
    """The text's code points from its token ids: ([B, T*W] int64, mask [B, T*W]).

    Each token contributes its W-wide row of `token_chars` (zero-padded); a stable sort on
    position moves the real characters of a row to its front, so n-grams can cross tokens.
    """
    batch, steps = input_ids.shape
    width = token_chars.size(1)
    chars = token_chars[input_ids].to(torch.int64) * (input_ids != 0).unsqueeze(-1)  # pads: none
    chars = chars.reshape(batch, steps * width)
    real = chars != 0
    positions = torch.arange(steps * width, device=input_ids.device).unsqueeze(0)
    key = torch.where(real, positions, positions + steps * width)  # padding after real chars
    _, order = torch.sort(key, dim=1)
    packed = chars.gather(1, order)
    return packed, positions < real.sum(dim=1, keepdim=True)


def first_occurrences(hashed: Tensor) -> tuple[Tensor, Tensor]:
    """Sort each row of hashes and flag the first copy of each value.

    Returns (sorted [B, N], keep [B, N]); sorting is TopK in ONNX, so dedup needs no custom op.
    """
    ordered, _ = torch.sort(hashed, dim=1)
    repeat = ordered[:, 1:] == ordered[:, :-1]
    keep = torch.cat([torch.ones_like(ordered[:, :1], dtype=torch.bool), ~repeat], dim=1)
    return ordered, keep


class NgramMember(nn.Module):
    """A linear model over the set of hashed id n-grams of a text (presence, not counts).

    It is fitted by `training.wide` as Naive-Bayes-weighted logistic regression and then frozen.
    The first label is the reference (its logit is 0, softmax does not mind), so `table[h]` holds
    C-1 weights per bucket: one column for a binary task, half the size of a table per label.
    The last row is the zero sentinel for n-grams that run into padding.
    """

    def __init__(self, spec: ModelSpec) -> None:
        super().__init__()
        self.buckets, self.order, self.char_order = (
            spec.ngram_buckets,
            spec.ngram_order,
            spec.char_order,
        )
        self.table = nn.Embedding(self.buckets + 1, spec.num_labels - 1, padding_idx=self.buckets)
        nn.init.zeros_(self.table.weight)
        self.bias = nn.Parameter(torch.zeros(spec.num_labels))

    def unique_hashes(
        self, input_ids: Tensor, mask: Tensor, token_chars: Tensor
    ) -> tuple[Tensor, Tensor]:
        hashed = hash_ngrams(input_ids, mask, self.order, self.buckets)
        if self.char_order:
            chars, real = character_sequence(input_ids, token_chars)
            more = hash_ngrams(chars, real, self.char_order, self.buckets, salt=self.order)
            hashed = torch.cat([hashed, more], dim=1)
        return first_occurrences(hashed)

    def forward(self, input_ids: Tensor, mask: Tensor, token_chars: Tensor) -> Tensor:
        ordered, keep = self.unique_hashes(input_ids, mask, token_chars)
        weights = self.table(ordered) * keep.unsqueeze(-1)  # [B, N, C-1]
        return with_reference_label(weights.sum(dim=1)) + self.bias


def character_ids(input_ids: Tensor, token_chars: Tensor, vocab: int) -> tuple[Tensor, ...]:
    """The text as character ids for a character-reading member: (ids, mask, lengths).

    ids [B, L] with L the longest row's character count (not T*W: the rest is padding), code
    points folded into [1, vocab); a row without characters reads one placeholder character.
    """
    chars, real = character_sequence(input_ids, token_chars)
    counts = real.sum(dim=1)
    longest = torch.arange(counts.max().clamp(min=1), device=input_ids.device)
    # index_select with a data-dependent arange, not a slice chars[:, :n]: the TorchScript
    # exporter freezes a slice bound taken from a tensor to the example's value, while a Gather
    # over the arange stays dynamic in the ONNX graph
    chars, real = chars.index_select(1, longest), real.index_select(1, longest)
    ids = torch.where(real, chars % (vocab - 1) + 1, torch.zeros_like(chars))
    first = torch.where(counts == 0, torch.ones_like(counts), ids[:, 0])
    ids = torch.cat([first.unsqueeze(1), ids[:, 1:]], dim=1)
    mask = ids != 0
    return ids, mask, mask.sum(dim=1)


def with_reference_label(scores: Tensor) -> Tensor:
    """[B, C-1] scores -> [B, C] logits with a zero logit for the first (reference) label."""
    return torch.cat([torch.zeros_like(scores[:, :1]), scores], dim=1)


class SentimentClassifier(nn.Module):
    """Recurrent member and/or n-gram member; their logits are mixed with learned weights.

    Each member's weight depends on the text's length, w = a + b * log(length): the n-gram
    member is the stronger one on long reviews, the recurrent one on short sentences. `mix`
    [member, (a, b)] and `mix_bias` are fitted on validation data after both members are
    trained (see `training.mix`), which beats training the members jointly.
    """

    def __init__(self, spec: ModelSpec) -> None:
        super().__init__()
        if spec.arch not in ARCHITECTURES:
            raise ValueError(f"arch must be one of {ARCHITECTURES}, got {spec.arch!r}")
        if spec.arch == "none" and spec.ngram_buckets <= 0:
            raise ValueError("arch 'none' needs the n-gram member (ngram_buckets > 0)")
        self.spec = spec
        self.recurrent = self._members(spec) if spec.arch != "none" else None
        self.ngrams = NgramMember(spec) if spec.ngram_buckets > 0 else None
        # code points of each token (int32 halves the graph's size), filled from the tokenizer
        rows = spec.vocab_size if spec.char_order or spec.char_members else 1
        self.register_buffer("token_chars", torch.zeros(rows, spec.char_width, dtype=torch.int32))
        initial = torch.tensor([[1.0, 0.0]] * len(self.member_names))  # [member] x [a, b]
        self.mix = nn.Parameter(initial, requires_grad=False)
        self.mix_bias = nn.Parameter(torch.zeros(spec.num_labels), requires_grad=False)

    @staticmethod
    def _members(spec: ModelSpec) -> nn.ModuleList:
        token_members = spec.members - spec.char_members
        first = RecurrentMember(spec)
        shared = first.embedding if spec.share_embedding else None
        tokens = [first] + [RecurrentMember(spec, shared) for _ in range(token_members - 1)]
        char_spec = dataclasses.replace(spec, vocab_size=spec.char_vocab)
        chars = [RecurrentMember(char_spec) for _ in range(spec.char_members)]
        return nn.ModuleList(tokens[:token_members] + chars)

    def reads_characters(self, member: int) -> bool:
        return member >= self.spec.members - self.spec.char_members

    def member_inputs(self, member: int, input_ids: Tensor) -> tuple[Tensor, ...]:
        """(ids, mask, lengths) that member `member` reads: the tokens or their characters."""
        if self.reads_characters(member):
            return character_ids(input_ids, self.token_chars, self.spec.char_vocab)
        mask = padding_mask(input_ids)
        return input_ids, mask, mask.sum(dim=1)

    @property
    def member_names(self) -> list[str]:
        """One name per entry of `member_logits`, in order."""
        members = self.spec.members if self.spec.arch != "none" else 0
        names = [f"recurrent{k}" if members > 1 else "recurrent" for k in range(members)]
        return names + (["ngram"] if self.spec.ngram_buckets > 0 else [])

    def member_logits(self, input_ids: Tensor) -> list[Tensor]:
        mask = padding_mask(input_ids)
        lengths = mask.sum(dim=1)
        outputs = []
        for index, member in enumerate(self.recurrent or []):
            if self.reads_characters(index):
                outputs.append(member(*self.member_inputs(index, input_ids)))
            else:
                outputs.append(member(input_ids, mask, lengths))
        if self.ngrams is not None:
            outputs.append(self.ngrams(input_ids, mask, self.token_chars))
        return outputs

    def forward(self, input_ids: Tensor) -> Tensor:
        members = self.member_logits(input_ids)
        if len(members) == 1:
            return members[0]
        return mix_logits(self.mix, self.mix_bias, members, padding_mask(input_ids).sum(dim=1))


def mix_logits(mix: Tensor, bias: Tensor, members: list[Tensor], lengths: Tensor) -> Tensor:
    """Length-dependent weighted sum of the members' logits [B, C]; lengths [B] >= 1."""
    log_length = torch.log(lengths.to(members[0].dtype)).unsqueeze(1)  # [B, 1]
    weights = mix[:, 0] + mix[:, 1] * log_length  # [B, M]
    logits = bias
    for index, member in enumerate(members):
        logits = logits + weights[:, index : index + 1] * member
    return logits
