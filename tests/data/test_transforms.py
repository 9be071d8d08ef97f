"""Transforms: the same object gives the same result on one image and on a batch."""

from __future__ import annotations

import pytest
import torch

from torchbasics.data.transforms import Normalize, RandomAffine, ToFloat, standard_transform


def test_to_float_and_normalize_match_the_formula():
    pixels = torch.tensor([[[0, 255], [51, 102]]], dtype=torch.uint8)  # (1, 2, 2)
    out = standard_transform((0.5,), (0.25,))(pixels)
    expected = (pixels.float() / 255 - 0.5) / 0.25
    torch.testing.assert_close(out, expected)


def test_per_image_and_batch_results_agree():
    batch = torch.randint(0, 256, (5, 3, 4, 4), dtype=torch.uint8)
    transform = standard_transform((0.1, 0.2, 0.3), (0.5, 0.6, 0.7))
    whole = transform(batch)
    for index in range(5):
        torch.testing.assert_close(transform(batch[index]), whole[index])


def test_normalize_refuses_bad_std():
    with pytest.raises(ValueError, match="positive std"):
        Normalize((0.5,), (0.0,))


def test_affine_identity_when_ranges_are_zero():
    images = ToFloat()(torch.randint(0, 256, (4, 1, 28, 28), dtype=torch.uint8))
    same = RandomAffine(degrees=0, translate=0, scale=(1, 1))(images)
    torch.testing.assert_close(same, images, atol=1e-5, rtol=0)


def test_affine_shift_moves_the_ink_and_is_seeded():
    images = torch.zeros(64, 1, 28, 28)
    images[:, :, 12:16, 12:16] = 1.0
    augment = RandomAffine(degrees=0, translate=0.1, scale=(1, 1),
                           generator=torch.Generator().manual_seed(0))
    moved = augment(images)
    rows = torch.arange(28.0)[:, None]
    centres = (moved[:, 0] * rows).sum((1, 2)) / moved[:, 0].sum((1, 2))  # ink centre row
    assert centres.std() > 0.5  # images moved by different amounts
    assert (centres - 13.5).abs().max() <= 2.8 + 1e-3  # at most 10 % of 28 pixels
    again = RandomAffine(degrees=0, translate=0.1, scale=(1, 1),
                         generator=torch.Generator().manual_seed(0))(images)
    torch.testing.assert_close(moved, again)


def test_single_image_augmentation_keeps_its_shape():
    image = torch.rand(1, 28, 28)
    assert RandomAffine()(image).shape == (1, 28, 28)


def test_flip_mirrors_about_half_and_is_its_own_inverse():
    from torchbasics.data.transforms import RandomHorizontalFlip

    images = torch.arange(16 * 4, dtype=torch.float32).reshape(16, 1, 2, 2)
    flipped = RandomHorizontalFlip(generator=torch.Generator().manual_seed(0))(images)
    mirrored = [torch.equal(f, i.flip(-1)) for f, i in zip(flipped, images, strict=True)]
    kept = [torch.equal(f, i) for f, i in zip(flipped, images, strict=True)]
    assert all(m or k for m, k in zip(mirrored, kept, strict=True))
    assert 3 <= sum(mirrored) <= 13


def test_augment_strength_zero_is_no_augmentation():
    images = torch.randint(0, 256, (4, 1, 28, 28), dtype=torch.uint8)
    plain = standard_transform((0.5,), (0.5,))
    assert len(standard_transform((0.5,), (0.5,), augment=0.0).transforms) == 2
    torch.testing.assert_close(standard_transform((0.5,), (0.5,), augment=0.0)(images),
                               plain(images))
    assert len(standard_transform((0.5,), (0.5,), augment=0.5, flips=True).transforms) == 4
