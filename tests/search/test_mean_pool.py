"""shop.embeddings.mean_pool: the one masked mean pooling of the encoder, the classifier and the benchmark."""

from __future__ import annotations

import torch

from shop.embeddings import mean_pool


def test_padding_tokens_do_not_count() -> None:
    hidden = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]],
                           [[5.0, 6.0], [0.0, 0.0], [0.0, 0.0]]])
    mask = torch.tensor([[1, 1, 0], [1, 0, 0]])
    assert torch.equal(mean_pool(hidden, mask), torch.tensor([[2.0, 3.0], [5.0, 6.0]]))


def test_normalize_gives_unit_rows_in_the_same_direction() -> None:
    hidden = torch.tensor([[[3.0, 4.0], [3.0, 4.0]]])
    pooled = mean_pool(hidden, torch.tensor([[1, 1]]), normalize=True)
    assert torch.allclose(pooled, torch.tensor([[0.6, 0.8]]))


def test_dtype_is_kept_and_a_row_without_tokens_pools_to_zeros() -> None:
    hidden = torch.ones(2, 3, 4, dtype=torch.bfloat16)
    pooled = mean_pool(hidden, torch.tensor([[1, 1, 1], [0, 0, 0]]))
    assert pooled.dtype == torch.bfloat16
    assert torch.equal(pooled.float(), torch.tensor([[1.0] * 4, [0.0] * 4]))
