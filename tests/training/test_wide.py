import torch

from training.models import HashedNgramBranch, ModelSpec, padding_mask
from training.wide import fit_ngram_branch, log_count_ratios, presence_matrix

POSITIVE, NEGATIVE, NEUTRAL = 7, 8, 9


def branch_of(order: int) -> HashedNgramBranch:
    return HashedNgramBranch(ModelSpec(20, 2, ngram_buckets=1009, ngram_order=order))


def rows_and_labels() -> tuple[list[list[int]], list[int]]:
    rows = [[POSITIVE, NEUTRAL, NEUTRAL], [NEGATIVE, NEUTRAL], [NEUTRAL, POSITIVE]] * 20
    return rows, [1, 0, 1] * 20


def test_presence_matrix_counts_each_ngram_once_per_text():
    branch = branch_of(order=1)
    features = presence_matrix(branch, [[NEUTRAL, NEUTRAL, POSITIVE]]).to_dense()
    assert features.sum().item() == 2 and features.max().item() == 1


def test_log_count_ratios_point_towards_the_label():
    branch = branch_of(order=1)
    rows, labels = rows_and_labels()
    ratios = log_count_ratios(presence_matrix(branch, rows), torch.tensor(labels), 2)
    positive_bucket = presence_matrix(branch, [[POSITIVE]]).coalesce().indices()[1, 0]
    assert ratios[positive_bucket, 1] > 0 > ratios[positive_bucket, 0]


def test_fit_separates_the_training_texts():
    branch = branch_of(order=2)
    rows, labels = rows_and_labels()
    report = fit_ngram_branch(branch, rows, labels, l2=1e-4)
    ids = torch.tensor([[POSITIVE, NEUTRAL], [NEGATIVE, NEUTRAL]])
    with torch.no_grad():
        predicted = branch(ids, padding_mask(ids), None).argmax(1).tolist()
    assert report["train_accuracy"] == 1.0 and predicted == [1, 0]
    assert branch.table.weight[branch.buckets].abs().sum() == 0  # sentinel row stays zero
