import pytest
import torch
import torch.nn.functional as F
from torch.func import functional_call

from mmmtl.registry import MODELS


@pytest.mark.parametrize('size,features', [(28, 64), (84, 64 * 5 * 5)])
def test_conv4_output_size(size, features):
    net = MODELS.build(dict(type='Conv4', in_channels=3))
    out = net(torch.randn(2, 3, size, size))
    assert out.shape == (2, features)
    out.sum().backward()
    assert net.layers[0][0].weight.grad is not None


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
