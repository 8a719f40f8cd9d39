"""BatchColorJitter against PIL's ImageEnhance (what mmpretrain's per-image
ColorJitter runs, backend 'pillow'), image by image with the same factors
and order; its random draws; the data preprocessor applying it to training
batches only."""
import numpy as np
import pytest
import torch
from PIL import Image, ImageEnhance

from mmmtl.models.data_preprocessors import (BatchColorJitter,
                                             FewShotDataPreprocessor)

ENHANCERS = (ImageEnhance.Brightness, ImageEnhance.Contrast,
             ImageEnhance.Color)


def pil_jitter(image: np.ndarray, factors, order) -> np.ndarray:
    """The per-image reference: uint8 RGB [H, W, 3]."""
    pil = Image.fromarray(image)
    for op in order:
        pil = ENHANCERS[op](pil).enhance(float(factors[op]))
    return np.asarray(pil)


def test_same_images_as_the_per_image_transform():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (6, 12, 12, 3), dtype=np.uint8)
    images[:3] = np.clip(images[:3].astype(int) + 120, 0, 255)  # bright
    factors = torch.tensor(rng.uniform(0.6, 1.4, (6, 3)))
    orders = torch.tensor([[0, 1, 2], [2, 1, 0], [1, 0, 2], [1, 2, 0],
                           [2, 0, 1], [0, 2, 1]])
    jitter = BatchColorJitter(0.4, 0.4, 0.4)
    batch = torch.from_numpy(images).permute(0, 3, 1, 2).double()
    out = jitter.jitter(batch, factors, orders).permute(0, 2, 3, 1).numpy()
    expected = np.stack([pil_jitter(images[i], factors[i].numpy(), orders[i])
                         for i in range(6)]).astype(float)
    # PIL truncates to uint8 after each of the three operations (later
    # factors up to 1.4 scale the earlier losses); the batch keeps floats
    assert np.abs(out - expected).max() <= 4
    assert 0 <= (out - expected).mean() < 1.5


def test_the_order_of_the_operations_is_each_images_own():
    """Saturation 1.4 clips a pure red that brightness 0.6 first would have
    kept in range: the two orders differ, each as PIL computes it."""
    red = np.zeros((2, 4, 4, 3), dtype=np.uint8)
    red[..., 0] = 255
    factors = torch.tensor([[0.6, 1.0, 1.4]] * 2)
    orders = torch.tensor([[2, 0, 1], [0, 2, 1]])
    batch = torch.from_numpy(red).permute(0, 3, 1, 2).double()
    out = BatchColorJitter(0.4, 0.4, 0.4).jitter(batch, factors, orders)
    for i in range(2):
        expected = pil_jitter(red[i], factors[i].numpy(), orders[i])
        assert np.abs(out[i].permute(1, 2, 0).numpy() - expected).max() <= 2
    assert out[0, 0, 0, 0] == pytest.approx(153, abs=1)  # clipped, darkened
    assert out[1, 0, 0, 0] == pytest.approx(196, abs=1)


def test_factor_one_and_a_disabled_operation_leave_images_as_they_are():
    images = torch.rand(4, 3, 5, 5, dtype=torch.float64) * 255
    order = torch.tensor([[0, 1, 2]] * 4)
    jitter = BatchColorJitter(0.4, 0.4, 0.4)
    assert torch.allclose(jitter.jitter(images, torch.ones(4, 3), order),
                          images)
    only_brightness = BatchColorJitter(brightness=0.4)
    out = only_brightness.jitter(images, torch.full((4, 3), 0.5), order)
    assert torch.allclose(out, images * 0.5)


def test_random_draws_per_image():
    jitter = BatchColorJitter(brightness=0.4)
    images = torch.full((600, 3, 2, 2), 100.)
    out = jitter(images, generator=torch.Generator().manual_seed(0))
    ratios = out[:, 0, 0, 0] / 100
    assert 0.6 <= ratios.min() < 0.65 and 1.35 < ratios.max() <= 1.4
    assert abs(ratios.mean().item() - 1) < 0.03
    # every image its own order: all six permutations drawn
    draws = torch.rand(600, 3, generator=torch.Generator().manual_seed(1))
    assert len({tuple(o) for o in draws.argsort(dim=1).tolist()}) == 6
    with pytest.raises(ValueError, match='finite and >= 0'):
        BatchColorJitter(brightness=-0.1)


def test_preprocessor_jitters_training_batches_only():
    pre = FewShotDataPreprocessor(
        mean=[0.0], std=[255.0],
        batch_augments=[dict(type='BatchColorJitter', brightness=0.4)])
    img = torch.full((2, 4, 3, 2, 2), 100, dtype=torch.uint8)  # episodes
    torch.manual_seed(0)
    trained = pre(dict(img=img), training=True)['inputs']
    tested = pre(dict(img=img), training=False)['inputs']
    assert trained.shape == tested.shape == img.shape
    assert torch.allclose(tested, torch.full(img.shape, 100 / 255))
    # brightness: one factor per image (its three channels and pixels)
    per_image = trained.flatten(0, 1).flatten(1)
    assert torch.allclose(per_image, per_image[:, :1].expand_as(per_image))
    assert len(set(per_image[:, 0].tolist())) == 8
