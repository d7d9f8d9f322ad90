import math

import torch

from training.losses import (
    allowed_mask,
    distillation_loss,
    masked_cross_entropy,
    masked_log_softmax,
    student_loss,
)


def test_bit_masks_become_label_masks():
    mask = allowed_mask([0b101, 0b111, -1], 3)
    assert mask.tolist() == [[True, False, True], [True, True, True], [True, True, True]]


def test_a_binary_row_is_scored_on_the_two_labels_it_allows():
    logits = torch.tensor([[1.0, 5.0, 1.0]])  # neutral would dominate a plain softmax
    mask = allowed_mask([0b101], 3)
    log_probs = masked_log_softmax(logits, mask)
    assert math.isclose(log_probs[0, 0].exp().item(), 0.5, rel_tol=1e-6)
    assert log_probs[0, 1].item() == float("-inf")
    loss = masked_cross_entropy(logits, torch.tensor([2]), mask)
    assert math.isclose(loss.item(), math.log(2), rel_tol=1e-6)


def test_weights_scale_each_rows_share_of_the_loss():
    logits = torch.tensor([[0.0, 2.0], [2.0, 0.0]])
    labels = torch.tensor([1, 1])
    mask = allowed_mask([-1, -1], 2)
    heavy_first = masked_cross_entropy(logits, labels, mask, torch.tensor([9.0, 1.0]))
    heavy_second = masked_cross_entropy(logits, labels, mask, torch.tensor([1.0, 9.0]))
    assert heavy_first < masked_cross_entropy(logits, labels, mask) < heavy_second


def test_distillation_is_zero_when_the_student_matches_the_teacher():
    logits = torch.tensor([[0.3, -1.0, 2.0], [1.0, 1.0, 0.0]])
    loss = distillation_loss(logits, logits.clone(), torch.ones(2), temperature=2.0)
    assert abs(loss.item()) < 1e-6
    moved = distillation_loss(logits, logits.flip(1), torch.ones(2), temperature=2.0)
    assert moved.item() > 0.1


def test_without_a_teacher_the_student_loss_is_the_cross_entropy():
    logits = torch.tensor([[0.0, 1.0, 2.0], [2.0, 0.0, 0.0]])
    labels, mask, weights = torch.tensor([2, 0]), allowed_mask([-1, -1], 3), torch.ones(2)
    plain = masked_cross_entropy(logits, labels, mask, weights)
    assert student_loss(logits, labels, mask, weights, None, 0.7, 2.0).item() == plain.item()


def test_unlabelled_rows_learn_from_the_teacher_only():
    logits = torch.tensor([[0.0, 1.0, 2.0], [2.0, 0.0, 0.0]], requires_grad=True)
    labels, mask, weights = torch.tensor([2, -1]), allowed_mask([-1, -1], 3), torch.ones(2)
    soft = torch.tensor([[float("nan")] * 3, [0.0, 0.0, 3.0]])  # only row 1 was taught
    loss = student_loss(logits, labels, mask, weights, soft, 0.5, 1.0)
    expected = 0.5 * masked_cross_entropy(logits[:1], labels[:1], mask[:1]) + 0.5 * (
        distillation_loss(logits[1:], soft[1:], torch.ones(1), 1.0)
    )
    assert math.isclose(loss.item(), expected.item(), rel_tol=1e-6)
    loss.backward()
    assert logits.grad is not None and torch.isfinite(logits.grad).all()
