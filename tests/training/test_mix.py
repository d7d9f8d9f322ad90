"""The mix: balanced validation weights, and weights fitted so that members combine well."""

import torch

from training.mix import (
    balanced_weights,
    fit_mix,
    fit_temperature,
    fold_temperature,
    member_logits,
    mixed,
)
from training.models import ModelSpec, SentimentClassifier
from training.prepare import EncodedSplit


def split(name: str, labels: list[int]) -> EncodedSplit:
    rows = [[2 + i % 7, 3 + i % 5] for i in range(len(labels))]
    return EncodedSplit(name, rows, labels, [3] * len(labels), [1.0] * len(labels))


def test_every_file_weighs_the_same_whatever_its_size() -> None:
    small, large = split("a", [0, 1]), split("b", [0, 1] * 5)
    weights = balanced_weights([small, large], balance_labels=False)
    assert torch.isclose(weights[:2].sum(), weights[2:].sum())
    assert torch.isclose(weights.mean(), torch.tensor(1.0))


def test_within_a_file_every_label_weighs_the_same() -> None:
    skewed = split("a", [0, 0, 0, 1])
    weights = balanced_weights([skewed], balance_labels=True)
    assert torch.isclose(weights[:3].sum(), weights[3:].sum())


def tiny_ensemble() -> SentimentClassifier:
    torch.manual_seed(0)
    spec = ModelSpec(50, 2, embed_dim=4, hidden_dim=4, members=2, dropout=0.0, embed_dropout=0.0)
    return SentimentClassifier(spec).eval()


def test_member_logits_follow_the_split_order() -> None:
    model, data = tiny_ensemble(), split("a", [0, 1, 0, 1])
    members = member_logits(model, data, batch_size=3, device=torch.device("cpu"))
    assert len(members) == 2 and members[0].shape == (4, 2)
    alone = member_logits(model, data.subset([2]), batch_size=3, device=torch.device("cpu"))
    torch.testing.assert_close(alone[0][0], members[0][2])


def test_fitted_mix_favours_the_member_that_knows_the_labels() -> None:
    """Member 0 sees the labels, member 1 is noise: the fit must lean on member 0."""
    model, data = tiny_ensemble(), split("a", [0, 1] * 20)
    labels = torch.tensor(data.labels)
    knowing = torch.stack([-(labels * 2.0 - 1.0), labels * 2.0 - 1.0], dim=1) * 3
    noise = torch.randn(len(labels), 2, generator=torch.Generator().manual_seed(1))
    weights = balanced_weights([data], balance_labels=True)
    fit_mix(model, [knowing, noise], data, weights)
    lengths = torch.tensor(data.lengths())
    predicted = mixed(model, [knowing, noise], lengths).argmax(1)
    assert (predicted == labels).all()
    assert model.mix[0, 0].abs() > model.mix[1, 0].abs()


def test_a_fitted_temperature_makes_overconfident_logits_honest_and_keeps_every_rank() -> None:
    """Labels drawn from softmax(z) but served as softmax(3 z): the fit must find T near 3,
    and folding it into the mix must give softmax(z) while no argmax moves."""
    generator = torch.Generator().manual_seed(2)
    true_logits = torch.randn(4000, 2, generator=generator) * 1.5
    labels = torch.multinomial(torch.softmax(true_logits, 1), 1, generator=generator).squeeze(1)
    data = EncodedSplit("a", [[2, 3]] * 4000, labels.tolist(), [3] * 4000, [1.0] * 4000)
    members = [true_logits * 3.0, torch.zeros(4000, 2)]
    model = tiny_ensemble()
    with torch.no_grad():
        model.mix.copy_(torch.tensor([[1.0, 0.0], [0.0, 0.0]]))
        model.mix_bias.zero_()
    lengths = torch.tensor(data.lengths())
    before = mixed(model, members, lengths)
    temperature = fit_temperature(before, data, balanced_weights([data], balance_labels=False))
    assert 2.6 < temperature < 3.4
    fold_temperature(model, temperature)
    after = mixed(model, members, lengths)
    torch.testing.assert_close(after, before / temperature)
    assert torch.equal(after.argmax(1), before.argmax(1))
