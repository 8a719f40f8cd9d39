"""A run interrupted and resumed from its last checkpoint ends with the same
weights as an uninterrupted run (episode stream, optimizer state and
scheduler restored), and it did resume: the cut run's checkpoint is left as
it was, and perturbing the weights it stores changes the result."""
import hashlib
import os
import os.path as osp

import pytest
import torch

from mmmtl.apis import train as train_tool
from mmmtl.utils.checkpoint import load_checkpoint_file


def load_checkpoint(path):
    """A full mmengine checkpoint written by this test (weights-only,
    mmmtl's allow-list)."""
    return load_checkpoint_file(path, map_location='cpu')


REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = dict(
    maml='configs/maml/maml_conv4_1xb32_omniglot_5way-1shot.py',
    reptile='configs/reptile/reptile_conv4_1xb5_omniglot_5way-1shot.py',
    mtl='configs/mtl/mtl-maml_conv4_1xb32_omniglot_5way-1shot.py')


def tiny_config(path, method, data_root):
    """The method's Omniglot config, shrunk: 3-way 1-shot on the generated
    Omniglot at 8x8, a two-block Conv4, 4 iterations, checkpoint every 2, the
    schedule (Adam for MAML and MTL-MAML, SGD with eps annealed to 0 for
    Reptile) spanning the 4 iterations. MTL's transfer head has the 20
    training classes of the generated Omniglot."""
    queries = 0 if method == 'reptile' else 1
    head = ('head=dict(in_channels=16), num_ways=3, '
            'adapter=dict(test_cfg=dict(num_steps=1))')
    if method == 'mtl':
        head = (f'meta_branch=dict({head}),\n    transfer_branch=dict('
                'head=dict(in_channels=16, num_classes=20))')
    text = f"""
_base_ = [{osp.join(REPO, CONFIGS[method])!r}]
model = dict(
    backbone=dict(channels=(4, 4), stride=1, pool=True),
    {head})
train_dataloader = dict(
    batch_size=2,
    dataset=dict(num_ways=3, num_shots=1, num_queries={queries},
                 dataset=dict(data_root={data_root!r}, image_size=8)))
val_dataloader = None
val_evaluator = None
val_cfg = None
test_dataloader = None
test_evaluator = None
test_cfg = None
train_cfg = dict(max_iters=4, val_interval=1000)
default_hooks = dict(
    logger=dict(interval=1),
    checkpoint=dict(interval=2, max_keep_ckpts=3, save_best=None))
"""
    if method == 'reptile':
        text += ("param_scheduler = [dict(type='LinearLR', start_factor=1.0, "
                 "end_factor=0.0, by_epoch=False, begin=0, end=4)]\n")
    with open(path, 'w') as f:
        f.write(text)
    return str(path)


def train(config, work_dir, *options, resume=False):
    """Run tools/train.py in this process (``resume``: True for --resume,
    or the checkpoint to resume from). Each run gets its own experiment
    name: runners of one process started within the same second would
    otherwise share mmengine's MessageHub (logged values, kept checkpoints).
    """
    name = '_'.join((work_dir.parent.name, work_dir.name,
                     'resumed' if resume else str(len(options))))
    args = [
        config, '--work-dir',
        str(work_dir), '--cfg-options', f'experiment_name={name}', *options
    ]
    if resume:
        args += ['--resume'] + ([] if resume is True else [str(resume)])
    train_tool.main(args)


def fingerprint(path):
    """Content hash and modification time of a file."""
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest(), os.stat(path).st_mtime_ns


@pytest.mark.parametrize('method', ['maml', 'reptile', 'mtl'])
def test_resume_gives_the_uninterrupted_weights(method, tiny_omniglot,
                                                tmp_path):
    data_root, _ = tiny_omniglot
    config = tiny_config(tmp_path / 'tiny.py', method, data_root)
    full, cut, moved = tmp_path / 'full', tmp_path / 'cut', tmp_path / 'moved'
    train(config, full)
    # interrupted after iteration 2, then resumed from its last checkpoint
    train(config, cut, 'train_cfg.max_iters=2')
    cut_checkpoint = str(cut / 'iter_2.pth')
    written = fingerprint(cut_checkpoint)
    # the same checkpoint with its weights moved, resumed by path
    state = load_checkpoint(cut_checkpoint)
    for value in state['state_dict'].values():
        if value.is_floating_point():
            value.add_(0.01)
    moved.mkdir()
    torch.save(state, moved / 'start.pth')
    train(config, cut, resume=True)
    train(config, moved, resume=moved / 'start.pth')
    # resumed, not started over: the cut run's checkpoint is as written
    # (a fresh run would have rewritten iteration 2)
    assert fingerprint(cut_checkpoint) == written
    assert not (moved / 'iter_2.pth').exists()
    expected = load_checkpoint(str(full / 'iter_4.pth'))
    resumed = load_checkpoint(str(cut / 'iter_4.pth'))
    assert resumed['meta']['iter'] == 4
    middle = load_checkpoint(str(full / 'iter_2.pth'))['state_dict']
    assert expected['state_dict'].keys() == resumed['state_dict'].keys()
    for name, value in expected['state_dict'].items():
        assert torch.equal(value, resumed['state_dict'][name]), name
    assert any(not torch.equal(v, middle[n])
               for n, v in expected['state_dict'].items())
    # the result depends on the weights the checkpoint carries
    from_moved = load_checkpoint(str(moved / 'iter_4.pth'))['state_dict']
    for name, value in expected['state_dict'].items():
        if value.is_floating_point():
            assert not torch.allclose(value, from_moved[name]), name
