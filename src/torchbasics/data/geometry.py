"""Resampling images through affine maps, and deskewing: the geometry behind the transforms.

A map ``theta`` ``(N, 2, 3)`` sends each output pixel's position to the input position it
is read from, in ``grid_sample``'s normalized coordinates. :func:`deskew_theta` computes the
map that straightens each image; :func:`compose` chains two maps so that deskewing and a
random warp cost one resampling.
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


def deskew_theta(images: torch.Tensor) -> torch.Tensor:
    """The ``(N, 2, 3)`` map (see :func:`warp`) that deskews each image; see :func:`deskew`."""
    height, width = images.shape[-2], images.shape[-1]
    ink = images.float().mean(dim=1)  # (N, H, W): the intensity whose moments are taken
    rows = torch.arange(height, dtype=ink.dtype, device=ink.device)  # (H,)
    cols = torch.arange(width, dtype=ink.dtype, device=ink.device)  # (W,)
    # Every moment comes from three profiles, not from (N, H, W) products: the ink in
    # each row, in each column, and each row's ink-weighted column sum.
    row_ink, col_ink, row_col_sum = ink.sum(dim=2), ink.sum(dim=1), ink @ cols  # (N, H) ...
    mass = row_ink.sum(dim=1).clamp_min(1e-12)  # (N,)
    row_mean, col_mean = row_ink @ rows / mass, col_ink @ cols / mass
    row_offsets = rows - row_mean[:, None]  # (N, H)
    row_var = (row_ink * row_offsets * row_offsets).sum(dim=1) / mass
    row_col_cov = (row_offsets * (row_col_sum - col_mean[:, None] * row_ink)).sum(dim=1) / mass
    slant = row_col_cov / row_var.clamp_min(1e-12)  # 0 for a blank image (cov is 0 too)
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
    most; the README's results show by how much).

    Args:
        images: ``(N, C, H, W)`` floats on [0, 1] with a dark (0) background, before
            normalizing. A blank image comes back as it is.

    Returns:
        The straightened images, same shape; one ``grid_sample`` call for the batch.
    """
    return warp(images, deskew_theta(images))


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
