import torch

from training.models import ModelSpec, NgramMember, padding_mask
from training.prepare import EncodedSplit
from training.wide import fit_ngram_member, log_count_ratios, presence_matrix

POSITIVE, NEGATIVE, NEUTRAL = 7, 8, 9


def member_of(order: int) -> NgramMember:
    return NgramMember(ModelSpec(20, 2, ngram_buckets=1009, ngram_order=order))


def rows_and_labels() -> tuple[list[list[int]], list[int]]:
    rows = [[POSITIVE, NEUTRAL, NEUTRAL], [NEGATIVE, NEUTRAL], [NEUTRAL, POSITIVE]] * 20
    return rows, [1, 0, 1] * 20


def test_presence_matrix_counts_each_ngram_once_per_text():
    member = member_of(order=1)
    features = presence_matrix(member, [[NEUTRAL, NEUTRAL, POSITIVE]]).to_dense()
    assert features.sum().item() == 2 and features.max().item() == 1


def test_log_count_ratios_point_towards_the_label():
    member = member_of(order=1)
    rows, labels = rows_and_labels()
    weights = torch.ones(len(labels))
    ratios = log_count_ratios(presence_matrix(member, rows), torch.tensor(labels), weights, 2)
    positive_bucket = presence_matrix(member, [[POSITIVE]]).coalesce().indices()[1, 0]
    assert ratios[positive_bucket, 1] > 0 > ratios[positive_bucket, 0]


def test_fit_separates_the_training_texts():
    member = member_of(order=2)
    rows, labels = rows_and_labels()
    split = EncodedSplit("train", rows, labels, [0b11] * len(rows), [1.0] * len(rows))
    report = fit_ngram_member(member, split, l2=1e-4)
    ids = torch.tensor([[POSITIVE, NEUTRAL], [NEGATIVE, NEUTRAL]])
    with torch.no_grad():
        predicted = member(ids, padding_mask(ids), None).argmax(1).tolist()
    assert report["train_accuracy"] == 1.0 and predicted == [1, 0]
    assert member.table.weight[member.buckets].abs().sum() == 0  # sentinel row stays zero


def fitted_three_label_member(binary: int) -> list[list[float]]:
    """A member fitted on tokens seen only in binary rows (allowed mask `binary`) and a token
    seen only in neutral rows; its probabilities for each token alone."""
    member = NgramMember(ModelSpec(20, 3, ngram_buckets=1009, ngram_order=1))
    rows = [[POSITIVE], [NEGATIVE], [NEUTRAL]] * 20
    allowed = [binary, binary, 0b111] * 20
    split = EncodedSplit("train", rows, [2, 0, 1] * 20, allowed, [1.0] * len(rows))
    fit_ngram_member(member, split, l2=1e-4)
    ids = torch.tensor([[POSITIVE], [NEGATIVE], [NEUTRAL]])
    with torch.no_grad():
        return torch.softmax(member(ids, padding_mask(ids), None), dim=1).tolist()


def test_binary_rows_are_fitted_on_negative_against_positive_only():
    (pos_neg, _, pos_pos), (neg_neg, _, neg_pos), _ = fitted_three_label_member(0b101)
    assert pos_pos > pos_neg and neg_neg > neg_pos


def test_rows_of_a_file_without_neutral_texts_also_learn_they_are_not_neutral():
    probabilities = fitted_three_label_member(-1)
    assert [max(range(3), key=row.__getitem__) for row in probabilities] == [2, 0, 1]


def test_row_weights_decide_between_conflicting_rows():
    member = member_of(order=1)
    rows = [[POSITIVE], [POSITIVE]] * 10
    labels = [1, 0] * 10

    def fitted(weight_of_positive: float) -> int:
        weights = [weight_of_positive, 1.0] * 10
        split = EncodedSplit("train", rows, labels, [0b11] * 20, weights)
        fit_ngram_member(member, split, l2=1e-3)
        ids = torch.tensor([[POSITIVE]])
        with torch.no_grad():
            return member(ids, padding_mask(ids), None).argmax(1).item()

    assert (fitted(3.0), fitted(1 / 3)) == (1, 0)
