import pytest
import torch

from training.config import ARCHITECTURES
from training.models import (
    ModelSpec,
    SentimentClassifier,
    character_sequence,
    first_occurrences,
    hash_ngrams,
    reverse_within_length,
)

ARCHS = list(ARCHITECTURES)


def ragged_batch(seed: int = 0) -> tuple[torch.Tensor, list[int]]:
    generator = torch.Generator().manual_seed(seed)
    lengths = [17, 3, 1, 9]
    ids = torch.zeros(len(lengths), max(lengths), dtype=torch.long)
    for row, length in enumerate(lengths):
        ids[row, :length] = torch.randint(2, 500, (length,), generator=generator)
    return ids, lengths


def tiny_model(arch: str, layers: int = 2) -> SentimentClassifier:
    torch.manual_seed(0)
    spec = ModelSpec(
        500,
        3,
        char_order=3,
        char_width=4,
        members=3,
        char_members=1,
        char_vocab=50,
        arch=arch,
        embed_dim=12,
        hidden_dim=10,
        num_layers=layers,
        cnn_channels=8,
        ngram_buckets=257,
        ngram_order=3,
    )
    model = SentimentClassifier(spec).eval()
    torch.nn.init.normal_(model.ngrams.table.weight)
    codes = torch.randint(0, 60, (500, 4), generator=torch.Generator().manual_seed(2))
    model.token_chars.copy_(codes.to(torch.int32))  # zeros act as missing characters
    return model


@pytest.mark.parametrize("arch", ARCHS)
def test_padding_never_changes_a_row(arch: str):
    model = tiny_model(arch)
    ids, lengths = ragged_batch()
    with torch.no_grad():
        batched = model(ids)
        alone = torch.cat([model(ids[i : i + 1, :n]) for i, n in enumerate(lengths)])
        extra = model(torch.nn.functional.pad(ids, (0, 11)))
    torch.testing.assert_close(batched, alone, atol=1e-5, rtol=0)
    torch.testing.assert_close(batched, extra, atol=1e-5, rtol=0)


def test_reverse_within_length_keeps_padding_in_place():
    x = torch.tensor([[1, 2, 3, 0], [4, 5, 0, 0]]).unsqueeze(-1)
    out = reverse_within_length(x, torch.tensor([3, 2])).squeeze(-1)
    assert out.tolist() == [[3, 2, 1, 0], [5, 4, 0, 0]]


def test_hashes_stay_in_range_and_padding_gets_the_sentinel():
    ids, _ = ragged_batch()
    hashed = hash_ngrams(ids, ids != 0, order=3, buckets=101)
    real = hashed[hashed != 101]
    assert real.min() >= 0 and real.max() < 101
    # row 2 holds one token: one unigram, no bigram or trigram
    assert int((hashed[2] != 101).sum()) == 1


def test_repeated_ngrams_count_once():
    hashed = torch.tensor([[5, 3, 5, 5, 9]])
    ordered, keep = first_occurrences(hashed)
    assert ordered[keep].tolist() == [3, 5, 9]


def test_unknown_architecture_is_refused():
    with pytest.raises(ValueError, match="arch must be one of"):
        SentimentClassifier(ModelSpec(10, 2, arch="transformer"))


def test_character_sequence_joins_tokens_and_drops_padding():
    table = torch.tensor([[0, 0], [0, 0], [32, 97], [98, 0], [99, 100]], dtype=torch.int32)
    ids = torch.tensor([[2, 3, 4], [4, 0, 0]])  # " a" "b" "cd" / "cd" + padding
    chars, real = character_sequence(ids, table)
    assert chars[0][real[0]].tolist() == [32, 97, 98, 99, 100]
    assert chars[1][real[1]].tolist() == [99, 100]
