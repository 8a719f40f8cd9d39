import pytest
import torch
import torch.nn.functional as F
from torch.func import functional_call

from mmmtl.registry import MODELS


def test_conv4_batch_norm_policy():
    transductive = MODELS.build(
        dict(type='Conv4', in_channels=1, track_running_stats=False))
    transductive.eval()
    x = torch.randn(4, 1, 28, 28)
    # batch statistics even in eval mode: an image's features depend on the
    # rest of the batch
    other_batch = torch.cat([x[:1], 5 * x[1:]])
    assert not torch.allclose(
        transductive(x)[:1], transductive(other_batch)[:1])
    running = MODELS.build(dict(type='Conv4', in_channels=1))
    running.eval()
    assert torch.allclose(running(x)[:1],
                          running(other_batch)[:1])


def test_cosine_head_by_hand():
    head = MODELS.build(
        dict(type='CosineHead', in_channels=2, num_classes=2, scale=3.0))
    with torch.no_grad():
        head.weight.copy_(torch.tensor([[1., 0.], [1., 1.]]))
    logits = head(torch.tensor([[2., 0.]]))
    assert torch.allclose(logits, torch.tensor([[3.0, 3.0 / 2**0.5]]))


def test_prototype_inits_give_nearest_centroid():
    protos = torch.randn(5, 8)
    feats = torch.randn(30, 8)
    linear = MODELS.build(
        dict(type='LinearHead', in_channels=8, num_classes=5))
    logits = functional_call(linear, linear.prototype_params(protos), feats)
    by_distance = (-torch.cdist(feats, protos)).argmax(1)
    assert torch.equal(logits.argmax(1), by_distance)
    cosine = MODELS.build(
        dict(type='CosineHead', in_channels=8, num_classes=5))
    logits = functional_call(cosine, cosine.prototype_params(protos), feats)
    by_angle = (F.normalize(feats, dim=1) @ F.normalize(protos, dim=1).t())
    assert torch.equal(logits.argmax(1), by_angle.argmax(1))


def test_unknown_type_error_names_it():
    with pytest.raises(KeyError, match='Conv5'):
        MODELS.build(dict(type='Conv5'))
    with pytest.raises(TypeError, match='Conv4.*channel'):
        MODELS.build(dict(type='Conv4', channel=3))


def test_data_preprocessor_normalises_each_channel():
    """(x - mean) / std per channel, computed here pixel by pixel, for a
    plain uint8 batch [B, C, H, W] and an episodic one [T, M, C, H, W];
    the labels pass through; without mean the images are only cast."""
    mean, std = [123.675, 116.28, 103.53], [58.395, 57.12, 57.375]
    pre = MODELS.build(
        dict(type='FewShotDataPreprocessor', mean=mean, std=std))
    gen = torch.Generator().manual_seed(0)
    episodes = torch.randint(
        0, 256, (2, 3, 3, 2, 2), generator=gen, dtype=torch.uint8)
    labels = torch.tensor([[0, 1, 2], [2, 1, 0]])
    for images in (episodes[0], episodes):
        out = pre(dict(img=images, episode_label=labels))
        assert out['inputs'].dtype == torch.float32
        assert out['inputs'].shape == images.shape
        assert torch.equal(out['data_samples']['episode_label'], labels)
        flat_in = images.reshape(-1, 3, 2, 2)
        flat_out = out['inputs'].reshape(-1, 3, 2, 2)
        for b in range(flat_in.shape[0]):
            for c in range(3):
                for y in range(2):
                    for x in range(2):
                        value = (int(flat_in[b, c, y, x]) - mean[c]) / std[c]
                        assert flat_out[b, c, y, x].item() == pytest.approx(
                            value, rel=1e-5, abs=1e-6)
    plain = MODELS.build(dict(type='FewShotDataPreprocessor'))
    assert torch.equal(
        plain(dict(img=episodes))['inputs'], episodes.float())
    with pytest.raises(ValueError, match='one value per channel'):
        MODELS.build(
            dict(type='FewShotDataPreprocessor', mean=[0.0], std=[1.0, 2.0]))
