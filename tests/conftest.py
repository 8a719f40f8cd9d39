"""Shared fixtures: the real Omniglot release (from $MMMTL_OMNIGLOT or
../shared/data/omniglot), tiny generated datasets, and a meta-test by hand.

``MMMTL_REQUIRE_DATA`` names the real datasets whose tests must not skip:
``1`` (the real data CI has: Omniglot) or a comma-separated list of names
from ``REAL_DATASETS``. A test needing a listed dataset that is absent fails
instead of skipping, so that a broken data path cannot turn tests off
unseen."""
import argparse
import contextlib
import copy
import importlib.util
import os
import os.path as osp
import socket
from typing import Iterator

import numpy as np
import pytest
import torch
from mmengine.config import Config, DictAction
from PIL import Image

import mmmtl  # noqa: F401
from mmmtl.registry import DATASETS, MODELS
from mmmtl.utils import register_all_modules
from mmmtl.utils.checkpoint import load_checkpoint_file

register_all_modules()

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
# real datasets a test may need, by the name MMMTL_REQUIRE_DATA uses; '1'
# stands for those CI provides (miniImageNet is built from a snapshot on
# our machines only, so its tests may always skip in CI)
REAL_DATASETS = ('omniglot', 'flowers102', 'cub')
CI_DATASETS = ('omniglot', )


def required_datasets() -> set:
    """The real datasets MMMTL_REQUIRE_DATA says must be present."""
    value = os.environ.get('MMMTL_REQUIRE_DATA', '').strip()
    if value in ('', '0'):
        return set()
    if value == '1':
        return set(CI_DATASETS)
    names = {n.strip().lower() for n in value.split(',') if n.strip()}
    unknown = sorted(names - set(REAL_DATASETS))
    if unknown:
        raise pytest.UsageError(
            f'MMMTL_REQUIRE_DATA={value!r}: unknown dataset(s) {unknown}; '
            f"use 1 or names from {', '.join(REAL_DATASETS)}")
    return names


def pytest_configure(config):
    required_datasets()  # a misspelt MMMTL_REQUIRE_DATA stops the run


def missing_real_data(name: str, reason: str) -> None:
    """Skip the calling test for want of real dataset ``name``, or fail it
    when MMMTL_REQUIRE_DATA requires that dataset."""
    if name in required_datasets():
        pytest.fail(f'{reason} (MMMTL_REQUIRE_DATA requires {name})',
                    pytrace=False)
    pytest.skip(reason)


def find_omniglot():
    """Folder holding omniglot_images.tar.gz and splits_vinyals/, or None."""
    candidates = [
        os.environ.get('MMMTL_OMNIGLOT'),
        osp.join(REPO, '..', 'shared', 'data', 'omniglot')
    ]
    for path in candidates:
        if path and osp.isfile(osp.join(path, 'omniglot_images.tar.gz')):
            return osp.abspath(path)
    return None


def find_real_folder(name: str, env: str, default: str, marker: str,
                     how: str) -> str:
    """Root of real dataset ``name``: $``env`` or <repo>/``default``, the
    first holding ``marker``; skips (or fails, see MMMTL_REQUIRE_DATA) the
    calling test when neither does, saying ``how`` to get it."""
    for path in (os.environ.get(env), osp.join(REPO, default)):
        if path and osp.exists(osp.join(path, marker)):
            return osp.abspath(path)
    missing_real_data(
        name, f'real {name} not found: set {env} to a folder holding '
        f'{marker}, or build it at {default} ({how})')


@pytest.fixture(autouse=True, scope='session')
def single_thread():
    """The tests use tiny tensors: one thread avoids OpenMP overhead (on a
    shared 2-core machine two threads made them up to 100x slower)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def omniglot_release_paths():
    """(archive path, Vinyals split folder) of the real Omniglot; skips (or
    fails, see MMMTL_REQUIRE_DATA) when it is not found."""
    root = find_omniglot()
    if root is None:
        missing_real_data(
            'omniglot', 'real Omniglot not found: set MMMTL_OMNIGLOT to a '
            'folder with omniglot_images.tar.gz and splits_vinyals/')
    return (osp.join(root, 'omniglot_images.tar.gz'),
            osp.join(root, 'splits_vinyals'))


@pytest.fixture(scope='session')
def omniglot_release():
    """(archive path, Vinyals split folder) of the real Omniglot."""
    return omniglot_release_paths()


def write_tiny_omniglot(root, alphabets=2, characters=3, drawings=6,
                        size=20):
    """A small Omniglot in the release layout: images_background/ and
    images_evaluation/ with ``alphabets`` alphabets each, plus a Vinyals
    split folder at root/splits/vinyals. Returns the class names (without
    rotation) per folder."""
    rng = np.random.default_rng(0)
    names = {}
    for folder in ('images_background', 'images_evaluation'):
        names[folder] = []
        for a in range(alphabets):
            alphabet = f'{folder[7:11].title()}{a}'
            for c in range(1, characters + 1):
                char_dir = osp.join(root, folder, alphabet,
                                    f'character{c:02d}')
                os.makedirs(char_dir)
                for d in range(1, drawings + 1):
                    pixels = rng.random((size, size)) > 0.2
                    Image.fromarray(pixels).convert('1').save(
                        osp.join(char_dir, f'{c:02d}{a}{d}_{d:02d}.png'))
                names[folder].append(f'{alphabet}/character{c:02d}')
    split_dir = osp.join(root, 'splits', 'vinyals')
    os.makedirs(split_dir)
    background = names['images_background']
    evaluation = names['images_evaluation']
    splits = dict(
        train=background[:-1], val=background[-1:], test=evaluation)
    splits['trainval'] = splits['train'] + splits['val']
    for split, chars in splits.items():
        with open(osp.join(split_dir, f'{split}.txt'), 'w') as f:
            for ch in chars:
                for rot in (0, 90, 180, 270):
                    f.write(f'{ch}/rot{rot:03d}\n')
    return names


@pytest.fixture
def tiny_omniglot(tmp_path):
    root = tmp_path / 'omniglot'
    names = write_tiny_omniglot(str(root))
    return str(root), names


def random_meta_batch(ways, shots, queries, tasks, num_classes, seed=0,
                      size=8):
    """T random float64 episodes in the collated format (support first):
    images [T, N*(K+Q), 1, size, size] and their labels, each task's
    classes drawn from ``num_classes`` global ones."""
    gen = torch.Generator().manual_seed(seed)
    inputs = torch.randn(
        tasks,
        ways * (shots + queries),
        1,
        size,
        size,
        generator=gen,
        dtype=torch.float64)
    episode = torch.cat([
        torch.arange(ways).repeat_interleave(shots),
        torch.arange(ways).repeat_interleave(queries)
    ]).repeat(tasks, 1)
    classes = torch.stack([
        torch.randperm(num_classes, generator=gen)[:ways]
        for _ in range(tasks)
    ])
    return inputs, dict(
        episode_label=episode,
        gt_label=torch.gather(classes, 1, episode),
        num_ways=ways,
        num_shots=shots,
        num_queries=queries)


@contextlib.contextmanager
def free_port() -> Iterator[int]:
    """A TCP port for torchrun's ``--master_port``, held for the ``with``
    block: a socket bound to it (the OS picks a free one), not listening,
    with SO_REUSEADDR. While it is held the OS gives the port to no other
    request for a free port (a released port could go to another run
    before torchrun binds it), and torchrun's TCPStore, which binds with
    SO_REUSEADDR too, can still listen on it.

    Example: ``with free_port() as port: subprocess.run([... port ...])``
    """
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(('127.0.0.1', 0))
        yield s.getsockname()[1]


def load_script(path: str):
    """A script of the repository (not a package module, e.g.
    tools/misc/gen_model_zoo.py) imported from its file, without putting its
    folder on sys.path."""
    name = 'mmmtl_script_' + osp.splitext(path)[0].replace('/', '_')
    spec = importlib.util.spec_from_file_location(name, osp.join(REPO, path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def parse_cfg_options(options) -> dict:
    """``key=value`` strings parsed as tools/*.py's ``--cfg-options``."""
    parser = argparse.ArgumentParser()
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args(['--cfg-options', *options]).cfg_options


def hand_meta_test(config, checkpoint, options=(), ways=None, shots=None,
                   queries=None, episodes=None, seed=None,
                   adapter=None) -> list:
    """Per-episode accuracies (%) of a checkpoint meta-tested without the
    Runner, its test loop or the metric: the config's model built, the
    checkpoint's state_dict loaded strictly by hand, the test episodes
    rebuilt from the config with the same seed, images normalised here, and
    each episode scored by the model's own adapt / predict_query (or those of
    ``adapter``, a config put in the model's), its correct queries counted
    here. tools/test.py must report these numbers."""
    cfg = Config.fromfile(config)
    if options:
        cfg.merge_from_dict(parse_cfg_options(options))
    model = MODELS.build(cfg.model)
    state = load_checkpoint_file(checkpoint, map_location='cpu')
    model.load_state_dict(state['state_dict'], strict=True)
    if adapter is not None:
        model.set_adapter(adapter)
    model.eval()
    episodes_cfg = copy.deepcopy(cfg.test_dataloader.dataset)
    for key, value in (('num_ways', ways), ('num_shots', shots),
                       ('num_queries', queries), ('num_episodes', episodes),
                       ('seed', seed)):
        if value is not None:
            episodes_cfg[key] = value
    dataset = DATASETS.build(episodes_cfg)
    # (an MTL model shares its meta branch's data preprocessor)
    norm = (cfg.model.get('data_preprocessor')
            or cfg.model.get('meta_branch', {}).get('data_preprocessor')
            or {})
    accuracies = []
    for index in range(len(dataset)):
        item = dataset[index]
        images = item['img'].float()
        if norm.get('mean') is not None:
            images = (images - torch.tensor(norm['mean']).view(-1, 1, 1)
                      ) / torch.tensor(norm['std']).view(-1, 1, 1)
        labels = item['episode_label'].tolist()
        num_support = item['num_ways'] * item['num_shots']
        state = model.adapt(images[:num_support],
                            item['episode_label'][:num_support],
                            item['num_ways'])
        predicted = model.predict_query(
            state, images[num_support:]).argmax(-1).tolist()
        truth = labels[num_support:]
        correct = sum(p == t for p, t in zip(predicted, truth))
        accuracies.append(100.0 * correct / len(truth))
    return accuracies


def scored_episodes(predictions: list) -> list:
    """Per-episode accuracies (%) of ``forward(mode='predict')``'s
    predictions, as :class:`FewShotAccuracy` scores them."""
    from mmmtl.evaluation import FewShotAccuracy
    metric = FewShotAccuracy(keep_episodes=True)
    metric.process({}, predictions)
    return metric.compute_metrics(metric.results)['accuracy_per_episode']


def assert_row_is_the_hand_run(row: dict, accuracies: list) -> None:
    """A tools/test.py result row reports the hand-run episodes: mean,
    population std (ddof=0, as documented) and the 95% CI half-width
    1.96 * std / sqrt(E)."""
    acc = np.asarray(accuracies, dtype=np.float64)
    assert row['num_episodes'] == len(acc)
    # float32 per-episode means in the model: far below one query's worth
    assert row['accuracy_mean'] == pytest.approx(acc.mean(), abs=1e-4)
    std = acc.std(ddof=0)
    assert row['accuracy_std'] == pytest.approx(std, abs=1e-4)
    assert row['accuracy_ci95'] == pytest.approx(
        1.96 * row['accuracy_std'] / np.sqrt(len(acc)), rel=1e-12)
