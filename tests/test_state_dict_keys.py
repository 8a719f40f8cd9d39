"""Checkpoint compatibility: the state_dict keys of every classifier type,
built from a representative config, are those that checkpoints written
before the models' refactoring of issue #16 hold (the lists were computed
on that code), so existing checkpoints still load strictly. Learned inner
rates moved from the classifier (``inner_lrs.*``) into its adapter
(``adapter.lrs.*``); checkpoints with the old keys still load."""
import os.path as osp

import pytest
import torch
from conftest import REPO
from mmengine.config import Config

from mmmtl.registry import MODELS
from mmmtl.utils import register_all_modules

GRADIENT_META_LEARNER = ['backbone.layers.0.0.weight',
                         'backbone.layers.0.0.bias',
                         'backbone.layers.0.1.weight',
                         'backbone.layers.0.1.bias',
                         'backbone.layers.1.0.weight',
                         'backbone.layers.1.0.bias',
                         'backbone.layers.1.1.weight',
                         'backbone.layers.1.1.bias',
                         'backbone.layers.2.0.weight',
                         'backbone.layers.2.0.bias',
                         'backbone.layers.2.1.weight',
                         'backbone.layers.2.1.bias',
                         'backbone.layers.3.0.weight',
                         'backbone.layers.3.0.bias',
                         'backbone.layers.3.1.weight',
                         'backbone.layers.3.1.bias', 'head.fc.weight',
                         'head.fc.bias']
PROTONET = ['backbone.layers.0.0.weight', 'backbone.layers.0.0.bias',
            'backbone.layers.0.1.weight', 'backbone.layers.0.1.bias',
            'backbone.layers.0.1.running_mean',
            'backbone.layers.0.1.running_var',
            'backbone.layers.0.1.num_batches_tracked',
            'backbone.layers.1.0.weight', 'backbone.layers.1.0.bias',
            'backbone.layers.1.1.weight', 'backbone.layers.1.1.bias',
            'backbone.layers.1.1.running_mean',
            'backbone.layers.1.1.running_var',
            'backbone.layers.1.1.num_batches_tracked',
            'backbone.layers.2.0.weight', 'backbone.layers.2.0.bias',
            'backbone.layers.2.1.weight', 'backbone.layers.2.1.bias',
            'backbone.layers.2.1.running_mean',
            'backbone.layers.2.1.running_var',
            'backbone.layers.2.1.num_batches_tracked',
            'backbone.layers.3.0.weight', 'backbone.layers.3.0.bias',
            'backbone.layers.3.1.weight', 'backbone.layers.3.1.bias',
            'backbone.layers.3.1.running_mean',
            'backbone.layers.3.1.running_var',
            'backbone.layers.3.1.num_batches_tracked']
BASELINE = ['backbone.layers.0.0.weight', 'backbone.layers.0.0.bias',
            'backbone.layers.0.1.weight', 'backbone.layers.0.1.bias',
            'backbone.layers.0.1.running_mean',
            'backbone.layers.0.1.running_var',
            'backbone.layers.0.1.num_batches_tracked',
            'backbone.layers.1.0.weight', 'backbone.layers.1.0.bias',
            'backbone.layers.1.1.weight', 'backbone.layers.1.1.bias',
            'backbone.layers.1.1.running_mean',
            'backbone.layers.1.1.running_var',
            'backbone.layers.1.1.num_batches_tracked',
            'backbone.layers.2.0.weight', 'backbone.layers.2.0.bias',
            'backbone.layers.2.1.weight', 'backbone.layers.2.1.bias',
            'backbone.layers.2.1.running_mean',
            'backbone.layers.2.1.running_var',
            'backbone.layers.2.1.num_batches_tracked',
            'backbone.layers.3.0.weight', 'backbone.layers.3.0.bias',
            'backbone.layers.3.1.weight', 'backbone.layers.3.1.bias',
            'backbone.layers.3.1.running_mean',
            'backbone.layers.3.1.running_var',
            'backbone.layers.3.1.num_batches_tracked', 'head.fc.weight',
            'head.fc.bias']
BASELINE_PLUS = ['backbone.layers.0.0.weight', 'backbone.layers.0.0.bias',
                 'backbone.layers.0.1.weight', 'backbone.layers.0.1.bias',
                 'backbone.layers.0.1.running_mean',
                 'backbone.layers.0.1.running_var',
                 'backbone.layers.0.1.num_batches_tracked',
                 'backbone.layers.1.0.weight', 'backbone.layers.1.0.bias',
                 'backbone.layers.1.1.weight', 'backbone.layers.1.1.bias',
                 'backbone.layers.1.1.running_mean',
                 'backbone.layers.1.1.running_var',
                 'backbone.layers.1.1.num_batches_tracked',
                 'backbone.layers.2.0.weight', 'backbone.layers.2.0.bias',
                 'backbone.layers.2.1.weight', 'backbone.layers.2.1.bias',
                 'backbone.layers.2.1.running_mean',
                 'backbone.layers.2.1.running_var',
                 'backbone.layers.2.1.num_batches_tracked',
                 'backbone.layers.3.0.weight', 'backbone.layers.3.0.bias',
                 'backbone.layers.3.1.weight', 'backbone.layers.3.1.bias',
                 'backbone.layers.3.1.running_mean',
                 'backbone.layers.3.1.running_var',
                 'backbone.layers.3.1.num_batches_tracked', 'head.weight',
                 'head.scale']
MTL = ['backbone.layers.0.0.weight', 'backbone.layers.0.0.bias',
       'backbone.layers.0.1.weight', 'backbone.layers.0.1.bias',
       'backbone.layers.1.0.weight', 'backbone.layers.1.0.bias',
       'backbone.layers.1.1.weight', 'backbone.layers.1.1.bias',
       'backbone.layers.2.0.weight', 'backbone.layers.2.0.bias',
       'backbone.layers.2.1.weight', 'backbone.layers.2.1.bias',
       'backbone.layers.3.0.weight', 'backbone.layers.3.0.bias',
       'backbone.layers.3.1.weight', 'backbone.layers.3.1.bias',
       'meta_branch.head.fc.weight', 'meta_branch.head.fc.bias',
       'transfer_branch.head.fc.weight', 'transfer_branch.head.fc.bias']
MTL_SCALE_SHIFT = ['backbone.layers.0.0.weight', 'backbone.layers.0.0.bias',
                   'backbone.layers.0.0.ss_scale',
                   'backbone.layers.0.0.ss_shift',
                   'backbone.layers.0.1.weight', 'backbone.layers.0.1.bias',
                   'backbone.layers.0.1.running_mean',
                   'backbone.layers.0.1.running_var',
                   'backbone.layers.0.1.num_batches_tracked',
                   'backbone.layers.1.0.weight', 'backbone.layers.1.0.bias',
                   'backbone.layers.1.0.ss_scale',
                   'backbone.layers.1.0.ss_shift',
                   'backbone.layers.1.1.weight', 'backbone.layers.1.1.bias',
                   'backbone.layers.1.1.running_mean',
                   'backbone.layers.1.1.running_var',
                   'backbone.layers.1.1.num_batches_tracked',
                   'backbone.layers.2.0.weight', 'backbone.layers.2.0.bias',
                   'backbone.layers.2.0.ss_scale',
                   'backbone.layers.2.0.ss_shift',
                   'backbone.layers.2.1.weight', 'backbone.layers.2.1.bias',
                   'backbone.layers.2.1.running_mean',
                   'backbone.layers.2.1.running_var',
                   'backbone.layers.2.1.num_batches_tracked',
                   'backbone.layers.3.0.weight', 'backbone.layers.3.0.bias',
                   'backbone.layers.3.0.ss_scale',
                   'backbone.layers.3.0.ss_shift',
                   'backbone.layers.3.1.weight', 'backbone.layers.3.1.bias',
                   'backbone.layers.3.1.running_mean',
                   'backbone.layers.3.1.running_var',
                   'backbone.layers.3.1.num_batches_tracked',
                   'base_learner.fc.weight', 'base_learner.fc.bias']
MTL_SCALE_SHIFT_PROTO = ['backbone.layers.0.0.weight',
                         'backbone.layers.0.0.bias',
                         'backbone.layers.0.0.ss_scale',
                         'backbone.layers.0.0.ss_shift',
                         'backbone.layers.0.1.weight',
                         'backbone.layers.0.1.bias',
                         'backbone.layers.0.1.running_mean',
                         'backbone.layers.0.1.running_var',
                         'backbone.layers.0.1.num_batches_tracked',
                         'backbone.layers.1.0.weight',
                         'backbone.layers.1.0.bias',
                         'backbone.layers.1.0.ss_scale',
                         'backbone.layers.1.0.ss_shift',
                         'backbone.layers.1.1.weight',
                         'backbone.layers.1.1.bias',
                         'backbone.layers.1.1.running_mean',
                         'backbone.layers.1.1.running_var',
                         'backbone.layers.1.1.num_batches_tracked',
                         'backbone.layers.2.0.weight',
                         'backbone.layers.2.0.bias',
                         'backbone.layers.2.0.ss_scale',
                         'backbone.layers.2.0.ss_shift',
                         'backbone.layers.2.1.weight',
                         'backbone.layers.2.1.bias',
                         'backbone.layers.2.1.running_mean',
                         'backbone.layers.2.1.running_var',
                         'backbone.layers.2.1.num_batches_tracked',
                         'backbone.layers.3.0.weight',
                         'backbone.layers.3.0.bias',
                         'backbone.layers.3.0.ss_scale',
                         'backbone.layers.3.0.ss_shift',
                         'backbone.layers.3.1.weight',
                         'backbone.layers.3.1.bias',
                         'backbone.layers.3.1.running_mean',
                         'backbone.layers.3.1.running_var',
                         'backbone.layers.3.1.num_batches_tracked',
                         'base_learner.weight', 'base_learner.scale']
MAML_PER_STEP_LRS = ['backbone.layers.0.0.weight', 'backbone.layers.0.0.bias',
                     'backbone.layers.0.1.weight', 'backbone.layers.0.1.bias',
                     'backbone.layers.1.0.weight', 'backbone.layers.1.0.bias',
                     'backbone.layers.1.1.weight', 'backbone.layers.1.1.bias',
                     'backbone.layers.2.0.weight', 'backbone.layers.2.0.bias',
                     'backbone.layers.2.1.weight', 'backbone.layers.2.1.bias',
                     'backbone.layers.3.0.weight', 'backbone.layers.3.0.bias',
                     'backbone.layers.3.1.weight', 'backbone.layers.3.1.bias',
                     'head.fc.weight', 'head.fc.bias',
                     'adapter.lrs.backbone-layers-0-0-bias',
                     'adapter.lrs.backbone-layers-0-0-weight',
                     'adapter.lrs.backbone-layers-0-1-bias',
                     'adapter.lrs.backbone-layers-0-1-weight',
                     'adapter.lrs.backbone-layers-1-0-bias',
                     'adapter.lrs.backbone-layers-1-0-weight',
                     'adapter.lrs.backbone-layers-1-1-bias',
                     'adapter.lrs.backbone-layers-1-1-weight',
                     'adapter.lrs.backbone-layers-2-0-bias',
                     'adapter.lrs.backbone-layers-2-0-weight',
                     'adapter.lrs.backbone-layers-2-1-bias',
                     'adapter.lrs.backbone-layers-2-1-weight',
                     'adapter.lrs.backbone-layers-3-0-bias',
                     'adapter.lrs.backbone-layers-3-0-weight',
                     'adapter.lrs.backbone-layers-3-1-bias',
                     'adapter.lrs.backbone-layers-3-1-weight',
                     'adapter.lrs.head-fc-bias', 'adapter.lrs.head-fc-weight']

CASES = [
    ('maml/maml_conv4_1xb8_omniglot_5way-1shot.py', 'MAML',
     GRADIENT_META_LEARNER),
    ('maml/maml_conv4_1xb4_mini-imagenet-32px_5way-5shot.py', 'MAML',
     GRADIENT_META_LEARNER),
    ('reptile/reptile_conv4_1xb5_omniglot_5way-1shot.py', 'Reptile',
     GRADIENT_META_LEARNER),
    ('protonet/protonet_conv4_1xb1_omniglot_5way-1shot.py', 'ProtoNet',
     PROTONET),
    ('transfer/baseline_conv4_1xb128_omniglot_5way-1shot.py',
     'TransferClassifier',
     BASELINE),
    ('transfer/baseline-plus_conv4_1xb128_omniglot_5way-1shot.py',
     'TransferClassifier',
     BASELINE_PLUS),
    ('mtl/mtl-maml_conv4_1xb8_omniglot_5way-1shot.py', 'MTL',
     MTL),
    ('mtl/mtl-reptile_conv4_1xb5_omniglot_5way-1shot.py', 'MTL',
     MTL),
    ('mtl-ss/mtl-ss_conv4_1xb2_omniglot_5way-1shot.py', 'MTLScaleShift',
     MTL_SCALE_SHIFT),
    ('mtl-ss/mtl-ss-proto_conv4_1xb2_omniglot_5way-1shot.py', 'MTLScaleShift',
     MTL_SCALE_SHIFT_PROTO),
]


def build(config: str, **options):
    register_all_modules()
    cfg = Config.fromfile(osp.join(REPO, 'configs', config)).model
    cfg.update(options)
    return MODELS.build(cfg)


@pytest.mark.parametrize('config, type_name, keys', CASES)
def test_state_dict_keys_are_those_of_existing_checkpoints(
        config, type_name, keys):
    model = build(config)
    assert type(model).__name__ == type_name
    assert list(model.state_dict()) == keys


LEARNED_RATES = dict(learn_lr='per_step', test_cfg=dict(num_steps=1))


def test_learned_inner_rates_are_the_adapters():
    model = build('maml/maml_conv4_1xb8_omniglot_5way-1shot.py',
                  adapter=LEARNED_RATES)
    assert list(model.state_dict()) == MAML_PER_STEP_LRS


@pytest.mark.parametrize('config, branch', [
    ('maml/maml_conv4_1xb8_omniglot_5way-1shot.py', ''),
    ('mtl/mtl-maml_conv4_1xb8_omniglot_5way-1shot.py', 'meta_branch.'),
])
def test_old_inner_rate_keys_load_with_the_same_rates_and_predictions(
        config, branch):
    """A checkpoint written before adapters (learned rates under
    ``inner_lrs.``, made here by renaming a current model's keys back)
    loads strictly into a new model: the same rates, the same meta-test
    predictions as the model it was saved from."""
    options = (dict(meta_branch=dict(adapter=LEARNED_RATES))
               if branch else dict(adapter=LEARNED_RATES))
    torch.manual_seed(0)
    saved = build(config, **options).eval()
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():  # rates unlike a new model's
        for rate in saved.adapter.lrs.values():
            rate.uniform_(0.1, 0.6, generator=gen)
    new_prefix = f'{branch}adapter.lrs.'
    old_prefix = f'{branch}inner_lrs.'
    old = {(old_prefix + k[len(new_prefix):] if k.startswith(new_prefix)
            else k): v
           for k, v in saved.state_dict().items()}
    assert sum(k.startswith(old_prefix) for k in old) == 18
    assert not any('adapter.' in k for k in old)

    torch.manual_seed(2)
    loaded = build(config, **options).eval()
    support = torch.rand(5, 1, 28, 28, generator=gen)
    labels = torch.arange(5)
    query = torch.rand(10, 1, 28, 28, generator=gen)

    def predictions(model):
        return model.predict_query(model.adapt(support, labels, 5), query)

    assert not torch.allclose(predictions(loaded), predictions(saved))
    loaded.load_state_dict(old, strict=True)
    rates, expected = loaded.adapter.rates(), saved.adapter.rates()
    assert rates.keys() == expected.keys() and len(rates) == 18
    for name in rates:
        assert torch.equal(rates[name], expected[name]), name
    assert torch.equal(predictions(loaded), predictions(saved))
    # the rates are used: other rates predict otherwise
    with torch.no_grad():
        loaded.adapter.lrs['head-fc-weight'].mul_(2)
    assert not torch.allclose(predictions(loaded), predictions(saved))
