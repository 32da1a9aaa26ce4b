"""``resize``: aspect-preserving scaling (PyTorch's interpolation, then centred zero padding) and LeNet-style padding."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from cnnbench.data import resize
from cnnbench.errors import IncompatibleConfigError, UnknownComponentError


def test_square_images_are_interpolated_bilinearly_antialiased_when_shrinking() -> None:
    images = torch.rand(3, 2, 28, 28)
    torch.testing.assert_close(resize(images, 14), F.interpolate(images, size=(14, 14), mode="bilinear", antialias=True))
    torch.testing.assert_close(resize(images, 56), F.interpolate(images, size=(56, 56), mode="bilinear"))


def test_non_square_images_keep_their_aspect_and_are_centred_on_zeros() -> None:
    images = torch.rand(2, 1, 20, 12) + 0.1  # no zero pixels of their own
    out = resize(images, 32)
    assert out.shape == (2, 1, 32, 32)
    # 20x12 scaled by 32/20 is 32x19: 6 zero columns on the left, 7 on the right
    torch.testing.assert_close(out[..., 6:25], F.interpolate(images, size=(32, 19), mode="bilinear"))
    assert out[..., :6].eq(0).all() and out[..., 25:].eq(0).all() and out[..., 6:25].gt(0).all()


def test_pad_mode_centres_the_unscaled_image_as_lenet5_did() -> None:
    digits = torch.rand(4, 1, 28, 28)
    torch.testing.assert_close(resize(digits, 32, mode="pad"), F.pad(digits, (2, 2, 2, 2)))
    assert resize(torch.ones(1, 3, 5, 4), 8, mode="pad")[0, 0].nonzero().amin(0).tolist() == [1, 2]


def test_images_of_the_right_size_are_returned_as_they_are() -> None:
    images = torch.rand(2, 3, 16, 16)
    assert resize(images, 16) is images and resize(images, 16, mode="pad") is images


def test_pad_mode_refuses_images_larger_than_the_target() -> None:
    with pytest.raises(IncompatibleConfigError, match=r"cannot pad 28x28 images to 16x16: they are larger; use mode='scale'"):
        resize(torch.rand(1, 1, 28, 28), 16, mode="pad")


def test_unknown_mode_names_the_modes() -> None:
    with pytest.raises(UnknownComponentError, match="known resize mode names: pad, scale"):
        resize(torch.rand(1, 1, 8, 8), 16, mode="crop")  # type: ignore[arg-type]
