"""What a run leaves for its user: TensorBoard events, the training-curves
PNG, the printed next command (run here as printed), the meta-test progress
lines, and the --threads option. One tiny MTL-MAML training on the
generated Omniglot serves all of them."""
import glob
import json
import os
import os.path as osp
import shlex
import subprocess
import sys
import textwrap
from types import SimpleNamespace

import matplotlib.colors
import matplotlib.image
import numpy as np
import pytest
import torch
from mmengine.logging import MessageHub

from conftest import REPO, write_tiny_omniglot
from mmmtl.engine.hooks.curves_hook import plot_curves, read_scalar_logs

from mmmtl.apis import test as test_tool
from mmmtl.apis import train as train_tool

MTL = osp.join(REPO, 'configs', 'mtl',
               'mtl-maml_conv4_1xb8_omniglot_5way-1shot.py')


def has_tensorboard():
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        return False
    return True


def tiny_mtl_config(path, root):
    """The README's MTL-MAML config shrunk: 3-way 1-shot on the generated
    Omniglot at 8x8, a two-block Conv4, 4 iterations, validation and a
    checkpoint every 2, the cosine over the 4 iterations."""
    path.write_text(
        textwrap.dedent(f"""
        _base_ = [{MTL!r}]
        model = dict(
            backbone=dict(channels=(4, 4), stride=1, pool=True),
            meta_branch=dict(num_ways=3,
                             adapter=dict(test_cfg=dict(num_steps=1)),
                             head=dict(in_channels=16)),
            transfer_branch=dict(head=dict(in_channels=16, num_classes=20)))
        data = dict(data_root={root!r}, image_size=8)
        train_dataloader = dict(
            batch_size=2,
            dataset=dict(num_ways=3, num_shots=1, num_queries=1,
                         dataset=data))
        val_dataloader = dict(dataset=dict(
            num_ways=3, num_queries=2, num_episodes=4, dataset=data))
        test_dataloader = dict(dataset=dict(
            num_ways=3, num_queries=2, num_episodes=6, dataset=data))
        train_cfg = dict(max_iters=4, val_interval=2)
        param_scheduler = [dict(type='CosineAnnealingLR', by_epoch=False,
                                begin=0, end=4)]
        default_hooks = dict(logger=dict(interval=1),
                             checkpoint=dict(interval=2))
        """))
    return str(path)


def tool_env():
    """The environment of a user's shell in this venv: `python` is this
    interpreter; two OpenMP threads unless --threads says otherwise."""
    return dict(
        os.environ,
        PATH=osp.dirname(sys.executable) + os.pathsep + os.environ['PATH'],
        OMP_NUM_THREADS='2')


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """Train the tiny config with tools/train.py as a user would (with
    --tensorboard where tensorboard is installed); return the work dir,
    the config and what the tool printed."""
    tmp = tmp_path_factory.mktemp('run')
    root = str(tmp / 'omniglot')
    write_tiny_omniglot(root)
    config = tiny_mtl_config(tmp / 'tiny_mtl.py', root)
    work = str(tmp / 'work')
    command = [
        sys.executable, 'tools/train.py', config, '--work-dir', work,
        '--threads', '1'
    ] + (['--tensorboard'] if has_tensorboard() else [])
    run = subprocess.run(command, cwd=REPO, env=tool_env(),
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return SimpleNamespace(work=work, config=config, stdout=run.stdout)


def scalar_records(work):
    (path, ) = glob.glob(osp.join(work, '*', 'vis_data', 'scalars.json'))
    with open(path) as f:
        return [json.loads(line) for line in f]


def test_tensorboard_event_file_holds_the_logged_scalars(trained):
    if not has_tensorboard():
        pytest.skip('tensorboard is not installed (pip install -e '
                    '".[tensorboard]"): --tensorboard is not testable')
    from tensorboard.backend.event_processing.event_accumulator import \
        EventAccumulator
    events = glob.glob(
        osp.join(trained.work, '*', 'vis_data', 'events.out.tfevents.*'))
    assert len(events) == 1
    reader = EventAccumulator(events[0])
    reader.Reload()
    tags = set(reader.Tags()['scalars'])
    # training and validation scalars apart (log_with_hierarchy)
    assert {'train/loss', 'train/meta_objective', 'train/transfer_objective',
            'train/time', 'val/accuracy_mean', 'val/accuracy_ci95',
            'val/time'} <= tags
    assert not tags & {'loss', 'accuracy_mean', 'time', 'data_time'}
    # no counters: the iteration is the step, the episodes a setting
    assert not tags & {'iter', 'val/num_episodes'}
    # the same values as the scalar log, validation at its iterations
    val = [r for r in scalar_records(trained.work)
           if 'val/accuracy_mean' in r]
    assert [(e.step, e.value) for e in reader.Scalars('val/accuracy_mean')
            ] == [(r['step'], pytest.approx(r['val/accuracy_mean']))
                  for r in val]
    assert [r['step'] for r in val] == [2, 4]
    losses = reader.Scalars('train/loss')
    assert [e.step for e in losses] == [1, 2, 3, 4]


def colour_pixels(panel: np.ndarray, rgb: tuple) -> int:
    """Pixels of ``panel`` (H x W x 3, 0-1) within 0.03 of ``rgb``."""
    return int((np.abs(panel - np.asarray(rgb)).max(-1) < 0.03).sum())


def test_training_curves_png_is_written(trained):
    """Three panels side by side (figsize 4.5 x 3.5 inches each, 100 dpi):
    the losses (3 series), the branches' training accuracies (2) and the
    validation accuracy with its CI band; each series drawn in its
    matplotlib colour (C0, C1, C2), the band as C0 at alpha 0.25 on
    white. A blank or half-drawn plot lacks some of these pixels (a
    drawn series: over 400; the band: over 60,000)."""
    path = osp.join(trained.work, 'training_curves.png')
    image = matplotlib.image.imread(path)[..., :3]
    assert image.shape[:2] == (350, 1350)
    assert f'training curves written to {path}' in trained.stdout
    c0, c1, c2 = (matplotlib.colors.to_rgb(f'C{i}') for i in range(3))
    band = tuple(0.25 * c + 0.75 for c in c0)
    panels = [image[:, 450 * i:450 * (i + 1)] for i in range(3)]
    expected = ([c0, c1, c2], [c0, c1], [c0, band])
    for index, (panel, colours) in enumerate(zip(panels, expected)):
        for rgb in colours:
            # a legend's sample line alone: about 40 pixels
            assert colour_pixels(panel, rgb) > 200, (index, rgb)
    assert colour_pixels(panels[1], c2) == 0  # two series only


def test_threads_option_overrides_omp_num_threads(trained):
    # trained with OMP_NUM_THREADS=2 and --threads 1
    assert 'torch threads: 1' in trained.stdout


def test_curves_show_each_branch_and_the_ci(trained, tmp_path):
    drawn = plot_curves(
        read_scalar_logs(trained.work), str(tmp_path / 'c.png'))
    assert drawn == {
        'training loss': ['loss', 'meta_objective', 'transfer_objective'],
        'training accuracy (%)': ['meta_accuracy', 'transfer_accuracy'],
        'validation accuracy (%), 95% CI': ['accuracy_mean'],
    }


def test_scalar_logs_of_a_resumed_run_make_one_history(tmp_path):
    """A run logged iterations 1-4 (validation at 2 and 4) and was resumed
    from iteration 2: its records after iteration 2 are replaced."""

    def write(stamp, records):
        folder = tmp_path / stamp / 'vis_data'
        folder.mkdir(parents=True)
        (folder / 'scalars.json').write_text(''.join(
            json.dumps(r) + '\n' for r in records))

    write('20260101_000000', [
        dict(loss=4.0, step=1), dict(loss=3.0, step=2),
        dict(accuracy_mean=50.0, accuracy_ci95=5.0, step=2),
        dict(loss=2.0, step=3), dict(loss=1.0, step=4),
        dict(accuracy_mean=60.0, accuracy_ci95=5.0, step=4)
    ])
    write('20260101_010000', [
        dict(loss=2.5, step=3), dict(loss=1.5, step=4),
        dict(accuracy_mean=70.0, accuracy_ci95=4.0, step=4)
    ])
    history = read_scalar_logs(str(tmp_path))
    assert [(r['step'], r.get('loss', r.get('accuracy_mean')))
            for r in history] == [(1, 4.0), (2, 3.0), (2, 50.0), (3, 2.5),
                                  (4, 1.5), (4, 70.0)]


def printed_test_command(stdout):
    lines = stdout.splitlines()
    return lines[lines.index('meta-test it with:') + 1].strip()


def test_printed_next_command_runs_as_printed(trained):
    (best, ) = glob.glob(
        osp.join(trained.work, 'best_accuracy_mean_iter_*.pth'))
    assert f'best checkpoint: {best}' in trained.stdout
    command = printed_test_command(trained.stdout)
    assert command.startswith('python tools/test.py ')
    run = subprocess.run(shlex.split(command), cwd=REPO, env=tool_env(),
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    (result, ) = glob.glob(osp.join(trained.work, 'meta_test_*.json'))
    saved = json.load(open(result))
    assert saved['checkpoint'] == best
    assert [(r['num_ways'], r['num_shots'], r['num_episodes'])
            for r in saved['results']] == [(3, 1, 6)]
    # the final table, and the progress line of the one cell
    assert f"| 3 | 1 | 2 | 6 | {saved['results'][0]['accuracy_mean']:.2f} |" \
        in run.stdout
    assert '[cell 1/1] 3-way 1-shot: episode 6/6, ETA cell 0:00:00' \
        in run.stdout


def test_meta_test_progress_names_every_cell(trained, tmp_path):
    (best, ) = glob.glob(
        osp.join(trained.work, 'best_accuracy_mean_iter_*.pth'))
    test_tool.main([
        trained.config, best, '--work-dir',
        str(tmp_path), '--shots', '1', '2', '--episodes', '5',
        '--cfg-options', 'default_hooks.logger.interval=1000',
        'experiment_name=progress_test'
    ])
    (log, ) = glob.glob(osp.join(tmp_path, '*', '*.log'))
    progress = [line.split(' - INFO - ')[1] for line in open(log)
                if '[cell ' in line]
    assert [p.split(', ETA')[0] for p in progress] == [
        '[cell 1/2] 3-way 1-shot: episode 5/5',
        '[cell 2/2] 3-way 2-shot: episode 5/5'
    ]
    assert progress[1].strip().endswith('all ~0:00:00')


def test_last_checkpoint_is_printed_when_no_validation_ran():
    hub = MessageHub(name='mmmtl_test_next_command')
    hub.update_info('last_ckpt', 'work_dirs/x/iter_4.pth')
    args = train_tool.parse_args([
        'configs/x.py', '--work-dir', 'work_dirs/x', '--cfg-options',
        'model.head.in_channels=8', 'model.backbone.channels=[8, 8]'
    ])
    text = train_tool.next_command(args, SimpleNamespace(message_hub=hub))
    assert text.splitlines()[0] == ('last (no validation ran) checkpoint: '
                                    'work_dirs/x/iter_4.pth')
    assert shlex.split(text.splitlines()[2])[2:] == [
        'configs/x.py', 'work_dirs/x/iter_4.pth', '--work-dir', 'work_dirs/x',
        '--cfg-options', 'model.head.in_channels=8',
        'model.backbone.channels=[8, 8]'
    ]


def test_next_command_drops_training_options_and_names_mim_when_packaged(
        tmp_path, monkeypatch):
    """Options only training reads (schedule, hooks, train / val loaders)
    are not repeated; a path below the current directory is shown relative
    to it, one elsewhere absolute; run from the installed package's tools
    (mim train) the command is mim test's."""
    monkeypatch.chdir(tmp_path)
    hub = MessageHub(name='mmmtl_test_next_command_mim')
    hub.update_info('best_ckpt', str(tmp_path / 'w' / 'best.pth'))
    args = train_tool.parse_args([
        '/elsewhere/x.py', '--cfg-options', 'train_cfg.max_iters=2000',
        'param_scheduler.0.end=2000', 'default_hooks.checkpoint.interval=9',
        'val_dataloader.dataset.num_episodes=20',
        'model.head.in_channels=8', 'test_dataloader.dataset.seed=3'
    ])
    runner = SimpleNamespace(message_hub=hub)
    plain = train_tool.next_command(args, runner, '/repo/tools/test.py')
    assert shlex.split(plain.splitlines()[2]) == [
        'python', '/repo/tools/test.py', '/elsewhere/x.py', 'w/best.pth',
        '--cfg-options', 'model.head.in_channels=8',
        'test_dataloader.dataset.seed=3'
    ]
    packaged = train_tool.next_command(
        args, runner, '/site/mmmtl/.mim/tools/test.py')
    assert shlex.split(packaged.splitlines()[2])[:6] == [
        'mim', 'test', 'mmmtl', '/elsewhere/x.py', '--checkpoint',
        'w/best.pth'
    ]


def test_threads_option(monkeypatch):
    """Without --threads: $OMP_NUM_THREADS when set (torch's own choice
    then stands), else one thread (docs/getting_started.md)."""
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        monkeypatch.setenv('OMP_NUM_THREADS', '2')
        assert train_tool.setup_threads(None) == 2
        monkeypatch.delenv('OMP_NUM_THREADS')
        assert train_tool.setup_threads(None) == 1 == torch.get_num_threads()
        assert train_tool.setup_threads(2) == 2 == torch.get_num_threads()
        with pytest.raises(ValueError, match='--threads must be >= 1'):
            train_tool.setup_threads(0)
    finally:
        torch.set_num_threads(before)


def test_tensorboard_option_without_tensorboard_says_what_to_install(
        monkeypatch):
    from mmengine.config import Config
    monkeypatch.setitem(sys.modules, 'tensorboard', None)  # import fails
    cfg = Config(dict(visualizer=dict(type='Visualizer')))
    with pytest.raises(ImportError, match=r'pip install -e "\.\[tensorboard'):
        train_tool.add_tensorboard(cfg)
    assert 'vis_backends' not in cfg.visualizer


def test_tensorboard_option_adds_the_backend_once():
    if not has_tensorboard():
        pytest.skip('tensorboard is not installed (pip install -e '
                    '".[tensorboard]")')
    from mmengine.config import Config
    cfg = Config.fromfile(MTL)
    train_tool.add_tensorboard(cfg)
    train_tool.add_tensorboard(cfg)
    assert [b['type'] for b in cfg.visualizer.vis_backends] == [
        'LocalVisBackend', 'FewShotTensorboardVisBackend'
    ]
