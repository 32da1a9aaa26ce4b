"""Generated scenes of circles, squares and triangles: segmentation and detection data that needs no files.

Each scene is a textured, noisy background holding 1-4 objects of random kind, size, position, rotation
and colour. Every object lies inside its own quadrant of the image (its circumscribed circle does), so
objects never overlap: a pixel mask or a box describes each object exactly, with no occlusion.
``segmentation(n, size, seed)`` and ``detection(n, size, seed)`` draw the same scenes.
"""

from __future__ import annotations

import math
from functools import partial

import torch
import torch.nn.functional as F

from cnnbench.errors import require

MAX_OBJECTS = 4
MIN_SIZE = 16
#: every colour channel of an object differs from the background's base colour by at least this much
MIN_CONTRAST = 0.35
TEXTURE_AMPLITUDE = 0.1
NOISE_STD = 0.03


def inside_circle(dx: torch.Tensor, dy: torch.Tensor, radius: torch.Tensor, angle: torch.Tensor) -> torch.Tensor:
    """Points (dx, dy) from the centre inside the circle of ``radius`` (``angle`` does not matter)."""
    return dx**2 + dy**2 <= radius**2


def inside_polygon(
    dx: torch.Tensor, dy: torch.Tensor, radius: torch.Tensor, angle: torch.Tensor, *, sides: int
) -> torch.Tensor:
    """Points (dx, dy) from the centre inside the regular ``sides``-gon inscribed in a circle of ``radius``.

    Each edge lies at distance ``radius * cos(pi / sides)`` from the centre, along a normal at
    ``angle + 2 pi k / sides``: a point is inside when its projection on every normal is no further.
    """
    apothem = radius * math.cos(math.pi / sides)
    inside = torch.ones(dx.shape, dtype=torch.bool)
    for edge in range(sides):
        normal = angle + 2 * math.pi * edge / sides
        inside &= dx * normal.cos() + dy * normal.sin() <= apothem
    return inside


#: how each class is drawn, in class-index order after the background
DRAW = {
    "circle": inside_circle,
    "square": partial(inside_polygon, sides=4),
    "triangle": partial(inside_polygon, sides=3),
}
CLASSES = ("background", *DRAW)


def segmentation(n: int, size: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` scenes of ``size`` x ``size``: images (N, 3, H, W) in [0, 1], masks (N, H, W) indexing :data:`CLASSES`."""
    images, owner, kinds = scenes(n, size, seed)
    kind_of_owner = torch.cat([torch.zeros(n, 1, dtype=torch.int64), kinds], dim=1)
    return images, kind_of_owner.gather(1, owner.flatten(1)).view_as(owner)


def detection(n: int, size: int, seed: int) -> tuple[torch.Tensor, list[torch.Tensor], list[torch.Tensor]]:
    """``n`` scenes: images (N, 3, H, W), and per image its boxes (K, 4) and labels (K,) in 1..3, 1 <= K <= 4.

    Boxes are tight ``(x1, y1, x2, y2)`` in pixel-edge coordinates: an object covering columns 3..7
    has ``x1 = 3, x2 = 8``, so a box spanning the whole image is ``(0, 0, size, size)``.
    """
    images, owner, kinds = scenes(n, size, seed)
    pixel = torch.arange(size * size)
    columns, rows = (pixel % size).expand(n, -1), (pixel // size).expand(n, -1)
    slots = owner.flatten(1)  # 0 = background, s + 1 = object slot s

    def extreme(coordinate: torch.Tensor, reduce: str) -> torch.Tensor:
        start = torch.full((n, MAX_OBJECTS + 1), size if reduce == "amin" else -1)
        return start.scatter_reduce(1, slots, coordinate, reduce)[:, 1:]

    boxes = torch.stack(
        [extreme(columns, "amin"), extreme(rows, "amin"), extreme(columns, "amax") + 1, extreme(rows, "amax") + 1],
        dim=-1,
    ).float()
    present = kinds > 0
    counts = present.sum(1).tolist()
    return images, list(boxes[present].split(counts)), list(kinds[present].split(counts))


def scenes(n: int, size: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Draw ``n`` scenes: images (N, 3, H, W), who owns each pixel, and what each object slot holds.

    ``owner`` (N, H, W) is 0 on the background and ``s + 1`` where slot ``s`` is drawn; ``kinds``
    (N, MAX_OBJECTS) is each slot's class index, 0 for an empty slot.
    """
    require(n >= 1, f"number of generated images must be >= 1, got {n}")
    require(size >= MIN_SIZE, f"generated image size must be >= {MIN_SIZE}, got {size}")
    generator = torch.Generator().manual_seed(seed)

    def uniform(*shape: int) -> torch.Tensor:
        return torch.rand(shape, generator=generator)

    count = torch.randint(1, MAX_OBJECTS + 1, (n, 1), generator=generator)
    kinds = torch.randint(1, len(CLASSES), (n, MAX_OBJECTS), generator=generator)
    kinds = kinds * (torch.arange(MAX_OBJECTS) < count)
    quadrant = uniform(n, MAX_OBJECTS).argsort(dim=1)  # a distinct quadrant for each slot
    half = size / 2
    # radius of the circumscribed circle; >= 2 px (size >= 16), so even a triangle covers a pixel centre
    radius = half * (0.25 + 0.2 * uniform(n, MAX_OBJECTS))
    corner = torch.stack([quadrant % 2, quadrant // 2], dim=-1) * half
    centre = corner + radius[..., None] + uniform(n, MAX_OBJECTS, 2) * (half - 2 * radius)[..., None]
    angle = uniform(n, MAX_OBJECTS) * 2 * math.pi

    base = uniform(n, 3)
    colours = (base[:, None] + MIN_CONTRAST + (1 - 2 * MIN_CONTRAST) * uniform(n, MAX_OBJECTS, 3)) % 1
    texture = F.interpolate(uniform(n, 3, 4, 4) * 2 - 1, size=(size, size), mode="bicubic", align_corners=False)
    images = base[..., None, None] + TEXTURE_AMPLITUDE * texture.clamp(-1, 1)

    owner = torch.zeros(n, size, size, dtype=torch.int64)
    for slot in range(MAX_OBJECTS):
        inside = shape_masks(kinds[:, slot], centre[:, slot], radius[:, slot], angle[:, slot], size)
        owner[inside] = slot + 1
        images = torch.where(inside[:, None], colours[:, slot, :, None, None], images)
    noise = NOISE_STD * torch.randn(images.shape, generator=generator)
    return (images + noise).clamp(0, 1), owner, kinds


def shape_masks(
    kinds: torch.Tensor, centre: torch.Tensor, radius: torch.Tensor, angle: torch.Tensor, size: int
) -> torch.Tensor:
    """(N, H, W) masks of one object per image: the pixel centres inside it (none where ``kinds`` is 0)."""
    coordinate = torch.arange(size, dtype=torch.float32) + 0.5
    masks = torch.zeros(len(kinds), size, size, dtype=torch.bool)
    for kind, inside in enumerate(DRAW.values(), start=1):
        chosen = kinds == kind  # each object is tested against its own shape only
        dx = coordinate.view(1, 1, -1) - centre[chosen, 0].view(-1, 1, 1)
        dy = coordinate.view(1, -1, 1) - centre[chosen, 1].view(-1, 1, 1)
        radii, angles = radius[chosen].view(-1, 1, 1), angle[chosen].view(-1, 1, 1)
        masks[chosen] = inside(*torch.broadcast_tensors(dx, dy), radii, angles)
    return masks
