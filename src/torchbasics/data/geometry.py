"""Resampling images through affine maps, and deskewing: the geometry behind the transforms.

A map ``theta`` ``(N, 2, 3)`` sends each output pixel's position to the input position it
is read from, in ``grid_sample``'s normalized coordinates. :func:`deskew_moments` measures
each image's centre and slant; :func:`deskew` straightens it (what a model's input step
does, exported too); :func:`deskew_theta` gives the same straightening as a map, which
:func:`compose` chains with a random warp so that augmentation resamples once.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def warp(images: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """Resample each image through its own affine map (bilinear; zeros from outside).

    Args:
        images: ``(N, C, H, W)`` floats.
        theta: ``(N, 2, 3)``: maps each output pixel's position ``(x, y, 1)`` to the input
            position it is read from, in ``grid_sample``'s normalized coordinates (-1 and 1
            are the outer edges, so a distance of d pixels is 2d / size).
    """
    n, height, width = images.shape[0], images.shape[-2], images.shape[-1]
    x = (2 * torch.arange(width, dtype=theta.dtype, device=theta.device) + 1) / width - 1
    y = (2 * torch.arange(height, dtype=theta.dtype, device=theta.device) + 1) / height - 1
    positions = torch.stack([x.expand(height, width), y[:, None].expand(height, width),
                             torch.ones(height, width, dtype=theta.dtype, device=theta.device)],
                            dim=-1).reshape(height * width, 3)  # every pixel centre, (x, y, 1)
    # One small matmul: ~3x faster than F.affine_grid, which computes the same grid.
    grid = (positions @ theta.transpose(1, 2)).view(n, height, width, 2)
    return F.grid_sample(images, grid.to(images.dtype), mode="bilinear", padding_mode="zeros",
                         align_corners=False)


def deskew_moments(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Each image's centre of mass (row, column) and slant, each ``(N, 1, 1, 1)`` float32.

    The intensity is the mean over channels; the slant is ``cov(row, col) / var(row)``,
    in columns per row (0 for a blank image). Every reduction keeps four dimensions, so the
    exported graph needs no 1-D matrix product, no stacking and no shape arithmetic, which
    some ONNX runtimes (OpenCV's) cannot run.
    """
    height, width = images.shape[-2], images.shape[-1]
    ink = images.float().mean(dim=1, keepdim=True)  # (N, 1, H, W)
    rows = torch.arange(height, dtype=ink.dtype, device=ink.device).view(1, 1, height, 1)
    cols = torch.arange(width, dtype=ink.dtype, device=ink.device).view(1, 1, 1, width)
    # Every moment comes from three profiles, not from (N, H, W) products: the ink in
    # each row, in each column, and each row's ink-weighted column sum.
    row_ink = ink.sum(dim=3, keepdim=True)  # (N, 1, H, 1)
    col_ink = ink.sum(dim=2, keepdim=True)  # (N, 1, 1, W)
    row_col_sum = (ink * cols).sum(dim=3, keepdim=True)  # (N, 1, H, 1)
    mass = row_ink.sum(dim=2, keepdim=True).clamp_min(1e-12)  # (N, 1, 1, 1)
    row_mean = (row_ink * rows).sum(dim=2, keepdim=True) / mass
    col_mean = (col_ink * cols).sum(dim=3, keepdim=True) / mass
    row_offsets = rows - row_mean  # (N, 1, H, 1)
    row_var = (row_ink * row_offsets * row_offsets).sum(dim=2, keepdim=True) / mass
    row_col_cov = (row_offsets * (row_col_sum - col_mean * row_ink)).sum(dim=2,
                                                                         keepdim=True) / mass
    slant = row_col_cov / row_var.clamp_min(1e-12)  # 0 for a blank image (cov is 0 too)
    return row_mean, col_mean, slant


def deskew_theta(images: torch.Tensor) -> torch.Tensor:
    """The ``(N, 2, 3)`` map (see :func:`warp`) that deskews each image; see :func:`deskew`.

    For augmentation, which composes it with a random map and resamples once.
    """
    height, width = images.shape[-2], images.shape[-1]
    row_mean, col_mean, slant = (moment.flatten() for moment in deskew_moments(images))
    # Output pixels are read from the input column moved by slant * (rows from the
    # middle), shifted so that the centre of mass comes to the middle.
    zeros, ones = torch.zeros_like(slant), torch.ones_like(slant)
    return torch.stack([
        torch.stack([ones, slant * height / width, (2 * col_mean + 1) / width - 1], 1),
        torch.stack([zeros, ones, (2 * row_mean + 1) / height - 1], 1),
    ], 1)


def deskew(images: torch.Tensor) -> torch.Tensor:
    """Straighten slanted handwriting: shear each image upright and centre its mass.

    The classic MNIST preprocessing (LeCun et al. 1998): from an image's intensity
    moments, its slant is ``cov(row, col) / var(row)`` columns per row; shearing by
    the opposite amount makes the strokes upright, and shifting the centre of mass to
    the middle of the frame removes the offset. A digit then looks much the same
    however it was written, so a model has one thing less to learn (a linear one gains
    most; docs/results/01-accuracy.md shows by how much).

    How: output pixel (row i, column j) is read, bilinearly with zeros outside, from the
    input at row ``i + row_mean - (H-1)/2`` and column ``j + col_mean - (W-1)/2 + slant *
    (i - (H-1)/2)``. The row read depends on i alone, so the 2-D interpolation separates
    exactly into a vertical 1-D one and then a horizontal one with a shift per row. Linear
    interpolation at position t weighs pixel p by the "tent" ``relu(1 - |t - p|)``, so each
    is one batched matrix product with per-image weights, ``(N, 1, H, H)`` and ``(N, H, W,
    W)``: the same values as :func:`warp` (``grid_sample``) to float rounding, and an
    exported graph that every runtime tested runs (``grid_sample`` has no layer in OpenCV 4).

    Args:
        images: ``(N, C, H, W)`` floats on [0, 1] with a dark (0) background, before
            normalizing. A blank image comes back as it is.

    Returns:
        The straightened images, same shape.
    """
    channels, height, width = images.shape[-3], images.shape[-2], images.shape[-1]
    dtype, device = images.dtype, images.device
    row_mean, col_mean, slant = (moment.to(dtype) for moment in deskew_moments(images))
    # Vertical: output row i reads input row i + row_shift, the same in every column.
    row_shift = row_mean - (height - 1) / 2  # (N, 1, 1, 1)
    # The weights are this function's cost; computed in place (the same graph when
    # exported), they take about a third of the time.
    vertical = _tent(_differences(height, dtype, device) + row_shift)  # (N, 1, H, H)
    resampled = vertical @ images  # (N, C, H, W)
    # Horizontal: output (i, j) reads column j + column_shift[i] of resampled row i, so
    # weights[n, i, q, j] = tent(j + column_shift[n, i] - q).
    rows = torch.arange(height, dtype=dtype, device=device).view(1, 1, height, 1)
    column_shift = col_mean - (width - 1) / 2 + slant * (rows - (height - 1) / 2)  # (N,1,H,1)
    horizontal = _tent(column_shift.reshape(-1, height, 1, 1)
                       - _differences(width, dtype, device))  # (N, H, W, W)
    if channels == 1:  # four dimensions only: what every runtime tested runs
        rows_first = resampled.reshape(-1, height, 1, width) @ horizontal  # (N, H, 1, W)
        return rows_first.reshape(-1, 1, height, width)
    return (resampled.unsqueeze(3) @ horizontal.unsqueeze(1)).reshape(-1, channels, height,
                                                                      width)


def _differences(size: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """``(size, size)``: ``[a, b] = a - b``."""
    index = torch.arange(size, dtype=dtype, device=device)
    return index[:, None] - index[None, :]


def _tent(offsets: torch.Tensor) -> torch.Tensor:
    """``relu(1 - |offsets|)``, the bilinear weight at each offset, in place."""
    return offsets.abs_().neg_().add_(1).relu_()


def deskew_pixels(images: torch.Tensor) -> torch.Tensor:
    """:func:`deskew` for uint8 pixels ``(N, C, H, W)``, rounded back to uint8 (for showing)."""
    return (deskew(images.float() / 255) * 255).round().to(torch.uint8)


def compose(first: torch.Tensor, then: torch.Tensor) -> torch.Tensor:
    """The ``(N, 2, 3)`` map that applies ``first`` to the image, then ``then``.

    Maps go from output to input positions, so the result sends an output position
    through ``then``'s map and the position found through ``first``'s.
    """
    combined = first[:, :, :2] @ then  # (N, 2, 3)
    combined[:, :, 2] += first[:, :, 2]
    return combined
