import math

import torch

from training.losses import allowed_mask, masked_cross_entropy, masked_log_softmax


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
