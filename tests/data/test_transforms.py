"""Transforms: the same object gives the same result on one image and on a batch."""

from __future__ import annotations

import pytest
import torch

from torchbasics.data.geometry import deskew, deskew_theta, warp
from torchbasics.data.transforms import (
    ModelInput,
    Normalize,
    RandomAffine,
    ToFloat,
    standard_transform,
)


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


def _slanted_stroke(slant: float, centre: tuple[float, float]) -> torch.Tensor:
    """A (1, 28, 28) image of a 1-pixel stroke through ``centre``, ``slant`` columns per row."""
    image = torch.zeros(1, 28, 28)
    for row in range(6, 22):
        col = centre[1] + slant * (row - centre[0])
        low = int(col)
        image[0, row, low] += 1 - (col - low)  # split between the two nearest columns
        image[0, row, low + 1] += col - low
    return image


def _moments(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Centre row, centre column and slant (cov(row, col) / var(row)) of (N, 1, H, W)."""
    ink = images[:, 0]
    rows, cols = torch.arange(28.0)[:, None], torch.arange(28.0)[None, :]
    mass = ink.sum((1, 2))
    row_mean, col_mean = (ink * rows).sum((1, 2)) / mass, (ink * cols).sum((1, 2)) / mass
    dr, dc = rows - row_mean[:, None, None], cols - col_mean[:, None, None]
    return row_mean, col_mean, (ink * dr * dc).sum((1, 2)) / (ink * dr * dr).sum((1, 2))


def test_deskew_makes_slanted_strokes_upright_and_centred():
    strokes = torch.stack([_slanted_stroke(0.4, (13.0, 10.0)), _slanted_stroke(-0.3, (15.0, 16.0))])
    row_mean, col_mean, slant = _moments(strokes)
    assert slant.abs().min() > 0.25 and (col_mean - 13.5).abs().max() > 2
    row_mean, col_mean, slant = _moments(deskew(strokes))
    assert slant.abs().max() < 0.02
    torch.testing.assert_close(row_mean, torch.full((2,), 13.5), atol=0.05, rtol=0)
    torch.testing.assert_close(col_mean, torch.full((2,), 13.5), atol=0.05, rtol=0)


def test_deskew_leaves_upright_centred_and_blank_images_alone():
    upright = torch.zeros(1, 1, 28, 28)
    upright[0, 0, 8:20, 13:15] = 1.0  # centre of mass at (13.5, 13.5), no slant
    torch.testing.assert_close(deskew(upright), upright, atol=1e-5, rtol=0)
    blank = torch.zeros(2, 3, 28, 28)
    assert torch.equal(deskew(blank), blank)


@pytest.mark.parametrize("channels", [1, 3])
def test_deskew_by_matrix_products_is_grid_samples_deskewing(channels):
    """The exportable formulation (tent weights, two batched products) resamples exactly as
    grid_sample through deskew_theta's map, which augmentation composes."""
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(16, channels, 28, 28, generator=generator)
    images[:8] *= torch.rand(8, channels, 28, 28, generator=generator) > 0.8  # sparse ink
    images[:4, :, :, :10] = 0  # off-centre, so that ink is read from beyond the border
    torch.testing.assert_close(deskew(images), warp(images, deskew_theta(images)),
                               atol=2e-5, rtol=0)


def test_model_input_deskews_then_normalizes_one_image_or_a_batch_alike():
    pixels = torch.randint(0, 256, (4, 1, 28, 28), dtype=torch.uint8)
    model_input = ModelInput((0.5,), (0.25,), deskew=True)
    batch = model_input(ToFloat()(pixels))
    torch.testing.assert_close(batch, (deskew(ToFloat()(pixels)) - 0.5) / 0.25)
    for index in range(4):
        # Normalizing by 0.25 scales float rounding by 4 (the batched moments sum otherwise).
        torch.testing.assert_close(model_input(ToFloat()(pixels[index])), batch[index],
                                   atol=1e-4, rtol=1e-5)
    assert model_input.settings() == {"mean": [0.5], "std": [0.25], "deskew": True}


def test_evaluation_batches_are_the_model_input_itself():
    pixels = torch.randint(0, 256, (4, 1, 28, 28), dtype=torch.uint8)
    model_input = ModelInput((0.5,), (0.5,), deskew=True)
    transform = standard_transform((0.5,), (0.5,), deskew=True)
    assert [type(step).__name__ for step in transform.transforms] == ["ToFloat", "ModelInput"]
    torch.testing.assert_close(transform(pixels), model_input(ToFloat()(pixels)))


def test_augmentation_with_deskewing_is_deskew_then_warp_in_one_resampling():
    strokes = torch.stack([_slanted_stroke(s, (13.0 + s, 12.0 - 3 * s))
                           for s in (-0.4, -0.2, 0.1, 0.3, 0.5)])  # (5, 1, 28, 28)
    # The identity warp composed with deskewing is deskewing (to float rounding: augmentation
    # resamples with grid_sample, the model input step with matrix products).
    torch.testing.assert_close(RandomAffine(0, 0, (1, 1), deskew=True)(strokes),
                               deskew(strokes), atol=2e-5, rtol=0)

    def augment(**deskewing):
        return RandomAffine(15, 0.1, (0.9, 1.1), generator=torch.Generator().manual_seed(0),
                            **deskewing)

    one_pass = augment(deskew=True)(strokes)
    two_passes = augment()(deskew(strokes))  # the same warps, one interpolation more
    other_order = deskew(augment()(strokes))
    assert (one_pass - two_passes).abs().mean() < 0.3 * (one_pass - other_order).abs().mean()
    steps = standard_transform((0.5,), (0.5,), deskew=True, augment=0.5).transforms
    assert [getattr(step, "__name__", type(step).__name__) for step in steps] == [
        "ToFloat", "RandomAffine", "normalize"]
