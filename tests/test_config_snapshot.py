"""Every leaf config resolves to what tests/data/config_snapshot.json.gz
recorded (tools/misc/config_snapshot.py): model, loaders, loops, optimiser,
schedulers, hooks, evaluators and runtime. Moving values between bases
must leave the resolved config as it was; a difference made on purpose is
listed in ALLOWED with its reason, or is a rule applied to every record:
the classifier keys that became adapter settings
(:func:`migrate_model_cfg`)."""
import copy
import fnmatch
import inspect
import os.path as osp

import pytest

from conftest import load_script
from mmmtl.models import MAML, MTL, Conv4
from mmmtl.models.adapters.legacy import migrate_model_cfg
from mmmtl.models.classifiers.mtl import mtl_branches

snapshot_tool = load_script('tools/misc/config_snapshot.py')
ABSENT = snapshot_tool.ABSENT
LEAVES = snapshot_tool.leaf_configs()
SNAPSHOT = snapshot_tool.load()

# the plain batch steps of transfer learning and ProtoNet (docs/speed.md)
BATCH_STEP_SPEED = {
    'model.backbone.train_channels_last':
    (ABSENT, True, 'Conv4 trains channels-last: the same values up to '
     'summation order'),
    'optim_wrapper.type':
    (ABSENT, 'AutocastOptimWrapper', 'bfloat16 autocast where native: '
     'validation accuracy unchanged (benchmarks/bf16_accuracy.sh)'),
}
# the 84x84 transfer configs: colour jitter moved from each image in the
# pipeline to the batch in the data preprocessor (docs/speed.md)
JITTER = dict(brightness=0.4, contrast=0.4, saturation=0.4)
CROP_FLIP = [
    dict(type='LoadImage'),
    dict(scale=84, type='mmpretrain.RandomResizedCrop'),
    dict(direction='horizontal', prob=0.5, type='RandomFlip')
]
TO_TENSOR = [
    dict(type='BGRToRGB'),
    dict(keys=['img', 'gt_label'], type='mmpretrain.Collect'),
    dict(keys=['img'], type='ImageToTensor')
]
BATCH_JITTER = {
    'model.data_preprocessor.batch_augments':
    (ABSENT, [dict(JITTER, type='BatchColorJitter')],
     'BatchColorJitter: the same operations and factor ranges, per image '
     '(tests/test_batch_color_jitter.py)'),
    'train_dataloader.dataset.pipeline':
    (CROP_FLIP + [dict(JITTER, type='mmpretrain.ColorJitter')] + TO_TENSOR,
     CROP_FLIP + TO_TENSOR, 'the jitter is in the data preprocessor'),
}
# leaf glob -> key path glob -> (recorded value or tuple of values, current
# value, why)
ALLOWED = {
    'configs/*': {
        '*.pipeline.0.type':
        (('LoadImageFromFile', 'LoadImageFromBytes'), 'LoadImage',
         'one loading transform for files and bytes, the same decoder: the '
         'same pixels (tests/test_transforms.py)'),
        'log_processor.log_with_hierarchy':
        (ABSENT, True, 'scalars named train/... and val/... in scalars.json '
         'and TensorBoard; what is trained and tested is unchanged'),
    },
    # training speed (docs/speed.md): numerics-neutral layout and cache,
    # and bfloat16 autocast checked on validation accuracy
    'configs/*/*mini-imagenet_*': {
        '*.cache_images':
        (ABSENT, True, 'the 84x84 splits decoded once into memory: the same '
         'items (tests/test_datasets_cache.py)'),
    },
    'configs/transfer/*': BATCH_STEP_SPEED,
    'configs/transfer/*_1xb128_cub_*': BATCH_JITTER,
    'configs/transfer/*_1xb128_mini-imagenet_*': BATCH_JITTER,
    'configs/transfer/*_1xb128_tiered-imagenet_*': BATCH_JITTER,
    'configs/protonet/*': BATCH_STEP_SPEED,
    # the MTL configs take their MAML / Reptile sibling's model as it is,
    # with the defaults that model states (checked below: the same
    # modules), and leave beta at MTL's default
    'configs/mtl/*': {
        'model.backbone.pool': (ABSENT, True, 'Conv4 default'),
        'model.backbone.stride': (ABSENT, 1, 'Conv4 default'),
        'model.meta_branch.first_order': (ABSENT, False, 'MAML default'),
        'model.beta': (0.1, ABSENT, 'MTL default'),
    },
}


def built_from(model: dict) -> dict:
    """An MTL model config in the form MTL builds its modules from
    (mtl_branches: the shared backbone and preprocessor taken out of the
    meta branch, the transfer branch's defaults filled in), so a base that
    states the same model more briefly compares equal."""
    if model.get('type') != 'MTL':
        return model
    backbone, preprocessor, (meta, transfer) = mtl_branches(
        model['meta_branch'], model['transfer_branch'],
        model.get('backbone'), model.get('data_preprocessor'))
    model = dict(model, backbone=backbone, meta_branch=meta,
                 transfer_branch=transfer)
    if preprocessor is not None:
        model['data_preprocessor'] = preprocessor
    return model


def allowed(leaf: str, key: str, recorded, now) -> bool:
    for leaf_glob, keys in ALLOWED.items():
        if fnmatch.fnmatch(leaf, leaf_glob):
            for key_glob, (was, becomes, _) in keys.items():
                olds = was if isinstance(was, tuple) else (was, )
                if (fnmatch.fnmatch(key, key_glob) and recorded in olds
                        and now == becomes):
                    return True
    return False


def test_every_leaf_is_recorded_and_every_record_is_a_leaf():
    assert len(LEAVES) >= 80
    assert sorted(SNAPSHOT) == LEAVES, (
        'new leaves: python tools/misc/config_snapshot.py --add CONFIG; '
        'a removed leaf: remove its record on purpose')


@pytest.mark.parametrize('leaf', LEAVES, ids=[osp.basename(p) for p in LEAVES])
def test_leaf_resolves_as_recorded(leaf):
    if leaf not in SNAPSHOT:
        pytest.fail(f'{leaf}: not recorded', pytrace=False)
    # both sides in the form MTL builds from: a record written by
    # config_snapshot.py --add states an MTL leaf as its config does
    recorded, now = dict(SNAPSHOT[leaf]), snapshot_tool.record(leaf)
    recorded['model'] = built_from(migrate_model_cfg(recorded['model']))
    now['model'] = built_from(now['model'])
    found = [(key, a, b) for key, a, b in snapshot_tool.differences(
        recorded, now)
             if not allowed(leaf, key, a, b)]
    if found:
        pytest.fail(
            f'{leaf} resolves differently from its record:\n' +
            '\n'.join(f'  {key}: recorded {a!r}, now {b!r}'
                      for key, a, b in found),
            pytrace=False)


def test_a_changed_value_is_named_by_its_key_path():
    leaf = 'configs/maml/maml_conv4_1xb4_cub_5way-1shot.py'
    changed = copy.deepcopy(SNAPSHOT[leaf])
    changed['model']['inner_lr'] = 0.5
    changed['train_dataloader']['dataset']['dataset']['pipeline'][0][
        'type'] = 'X'
    del changed['model']['first_order']
    changed['custom_hooks'] = [dict(type='HardTaskHook')]
    assert sorted(key for key, _, _ in snapshot_tool.differences(
        SNAPSHOT[leaf], changed)) == [
            'custom_hooks', 'model.first_order', 'model.inner_lr',
            'train_dataloader.dataset.dataset.pipeline.0.type'
        ]


def test_allowed_stated_defaults_are_the_defaults():
    for cls, key, value in ((Conv4, 'pool', True), (Conv4, 'stride', 1),
                            (MAML, 'first_order', False), (MTL, 'beta', 0.1)):
        assert inspect.signature(cls).parameters[key].default == value
