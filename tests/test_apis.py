"""mmmtl.apis.CustomTask: adapt a briefly trained Baseline++ to real Omniglot
characters it never saw, predict, save / reload, and the error cases."""
import os
import os.path as osp
import re
import tarfile

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import Compose
from PIL import Image

from conftest import REPO
from mmmtl.apis import (CustomTask, ImagePreparer, find_test_dataset_cfg,
                        init_model, read_support_folder)

from mmmtl.apis import train as train_tool

CONFIG = osp.join(REPO, 'configs', 'transfer',
                  'baseline-plus_conv4_1xb128_omniglot_5way-1shot.py')
ITERS = 150
# training: characters 1-5 of every background alphabet (150 classes);
# meta-validation: character 6; the custom task: character 1 of five
# evaluation (test) alphabets, drawings 1-3 as support, 11-15 as queries
_PNG = re.compile(r'(images_background|images_evaluation)/([^/]+)/'
                  r'character(\d+)/\d+_(\d+)\.png$')
SUPPORT_SHOTS = (1, 3, 2, 1, 3)  # uneven on purpose
QUERY_DRAWINGS = range(11, 16)

_TRAINED = {}  # one training per session, also when imported elsewhere


def _extract(archive: str, root: str) -> dict:
    """Write the training characters in the release layout under ``root``
    with Vinyals-style split files; return {evaluation class name:
    {drawing number: PNG bytes}} for the custom task."""
    train, val, task = set(), set(), {}
    with tarfile.open(archive, 'r:*') as tar:
        for member in tar:
            m = _PNG.search(member.name) if member.isfile() else None
            if m is None:
                continue
            folder, alphabet, char, drawing = m.groups()
            char, drawing = int(char), int(drawing)
            if folder == 'images_evaluation':
                if char == 1:
                    task.setdefault(alphabet, {})[drawing] = tar.extractfile(
                        member).read()
                continue
            if char > 6:
                continue
            (train if char <= 5 else val).add(f'{alphabet}/character{char:02d}')
            out = osp.join(root, member.name[member.name.index(folder):])
            os.makedirs(osp.dirname(out), exist_ok=True)
            with open(out, 'wb') as f:
                f.write(tar.extractfile(member).read())
    split_dir = osp.join(root, 'splits', 'vinyals')
    os.makedirs(split_dir)
    # no test split: nothing here meta-tests, and a split file sharing the
    # val characters would be refused (a class in two splits)
    for split, chars in (('train', train), ('val', val)):
        with open(osp.join(split_dir, f'{split}.txt'), 'w') as f:
            f.writelines(f'{c}/rot000\n' for c in sorted(chars))
    return {a: task[a] for a in sorted(task)[:len(SUPPORT_SHOTS)]}


def _train_options(root: str) -> list:
    return [
        f'train_dataloader.dataset.data_root={root}',
        f'val_dataloader.dataset.dataset.data_root={root}',
        f'test_dataloader.dataset.dataset.data_root={root}',
        'train_dataloader.batch_size=64',
        'model.backbone.channels=[32,32,32,32]',
        'model.head.in_channels=32',
        'model.head.num_classes=150',
        f'train_cfg.max_iters={ITERS}',
        f'train_cfg.val_interval={ITERS + 1}',  # no meta-validation
        f'default_hooks.checkpoint.interval={ITERS}',
        'default_hooks.logger.interval=50',
    ]


@pytest.fixture(scope='session')
def omniglot_model(omniglot_release, tmp_path_factory):
    """Config, checkpoint and custom-task drawings of a small Baseline++
    Conv4 trained for 150 iterations on real background characters."""
    if not _TRAINED:
        archive, _ = omniglot_release
        base = tmp_path_factory.mktemp('omniglot_model')
        root = str(base / 'omniglot')
        drawings = _extract(archive, root)
        work = str(base / 'work')
        train_tool.main([CONFIG, '--work-dir', work, '--cfg-options',
                         *_train_options(root)])
        # the config as trained (options applied), dumped by the Runner
        _TRAINED.update(
            config=osp.join(work, osp.basename(CONFIG)),
            checkpoint=osp.join(work, f'iter_{ITERS}.pth'),
            drawings=drawings)
    return _TRAINED


def write_support(drawings: dict, root) -> str:
    """``root/<alphabet>_character01/<drawing>.png``, 1-3 drawings per
    class."""
    for (alphabet, by_number), shots in zip(drawings.items(),
                                             SUPPORT_SHOTS):
        class_dir = osp.join(root, f'{alphabet}_character01')
        os.makedirs(class_dir)
        for d in range(1, shots + 1):
            with open(osp.join(class_dir, f'{d:02d}.png'), 'wb') as f:
                f.write(by_number[d])
    return str(root)


def write_queries(drawings: dict, root) -> tuple:
    """Held-out drawings as files; returns (paths, true class names)."""
    os.makedirs(root)
    paths, labels = [], []
    for alphabet, by_number in drawings.items():
        for d in QUERY_DRAWINGS:
            path = osp.join(root, f'{alphabet}_{d:02d}.png')
            with open(path, 'wb') as f:
                f.write(by_number[d])
            paths.append(path)
            labels.append(f'{alphabet}_character01')
    return paths, labels


@pytest.fixture(scope='module')
def custom_task(omniglot_model, tmp_path_factory):
    """A task adapted on the support folder, and the query files."""
    base = tmp_path_factory.mktemp('custom_task')
    support = write_support(omniglot_model['drawings'], base / 'support')
    queries, labels = write_queries(omniglot_model['drawings'],
                                    str(base / 'queries'))
    task = CustomTask.from_config(omniglot_model['config'],
                                  omniglot_model['checkpoint'])
    task.adapt(support)
    return task, support, queries, labels


def test_adapt_predicts_held_out_drawings_above_chance(custom_task):
    task, support, queries, labels = custom_task
    assert task.classes == sorted(os.listdir(support))
    predictions = task.predict(queries, topk=3)
    assert [p['image'] for p in predictions] == queries
    for p in predictions:
        assert len(p['classes']) == 3 and p['probs'] == sorted(
            p['probs'], reverse=True)
        assert 0 < p['probs'][0] <= 1
    hits = [p['classes'][0] == y for p, y in zip(predictions, labels)]
    # 5-way: chance is 20%
    assert np.mean(hits) >= 0.6, predictions
    probs = task.probabilities(queries)
    assert probs.shape == (len(queries), 5)
    torch.testing.assert_close(probs.sum(1), torch.ones(len(queries)))


def test_saved_task_reloads_weights_only_with_identical_predictions(
        custom_task, tmp_path):
    task, _, queries, _ = custom_task
    path = str(tmp_path / 'adapted.pth')
    task.save(path)
    saved = torch.load(path, weights_only=True)
    assert saved['classes'] == task.classes
    reloaded = CustomTask.load(path)
    assert reloaded.classes == task.classes
    assert torch.equal(reloaded.probabilities(queries),
                       task.probabilities(queries))
    assert reloaded.predict(queries, topk=2) == task.predict(queries, topk=2)


def test_adapt_on_pairs_of_arrays_and_pil_images(custom_task):
    """(image, label) pairs given as arrays / PIL images adapt as the same
    files do."""
    task, support, queries, _ = custom_task
    pairs = [(np.asarray(Image.open(path)) if i % 2 else Image.open(path),
              name) for i, (path, name) in enumerate(
                  read_support_folder(support))]
    other = CustomTask(task.model, task.model_cfg, task.dataset_cfg)
    other.adapt(pairs)
    assert other.classes == task.classes
    torch.testing.assert_close(
        other.probabilities(queries), task.probabilities(queries))


def test_rgb_and_resized_queries_work_on_a_grey_model(custom_task, tmp_path):
    task, _, queries, _ = custom_task
    grey = Image.open(queries[0])
    rgb_path = str(tmp_path / 'rgb.jpg')
    grey.convert('RGB').resize((210, 210)).save(rgb_path, quality=95)
    rgba = np.asarray(grey.convert('RGBA').resize((64, 64)))
    small = grey.convert('L').resize((48, 48))
    probs = task.probabilities([rgb_path, rgba, small, queries[0]])
    assert probs.shape == (4, 5) and torch.isfinite(probs).all()
    # the same drawing is recognised whatever its format and size
    assert len(set(probs.argmax(1).tolist())) == 1


def test_empty_class_folder_is_named(custom_task, tmp_path):
    task, support, _, _ = custom_task
    (tmp_path / 'a').mkdir()
    Image.new('L', (28, 28)).save(tmp_path / 'a' / '1.png')
    (tmp_path / 'nothing_here').mkdir()
    (tmp_path / 'nothing_here' / 'notes.txt').write_text('x')
    with pytest.raises(ValueError, match='nothing_here.*holds no images'):
        task.adapt(str(tmp_path))


def test_support_folder_without_class_folders(custom_task, tmp_path):
    task = custom_task[0]
    Image.new('L', (28, 28)).save(tmp_path / 'loose.png')
    with pytest.raises(ValueError, match='holds no class folders'):
        task.adapt(str(tmp_path))
    with pytest.raises(FileNotFoundError, match='does not exist'):
        task.adapt(str(tmp_path / 'missing'))


def test_corrupt_image_is_named(custom_task, tmp_path):
    task, support, queries, _ = custom_task
    for name in ('a', 'b'):
        (tmp_path / name).mkdir()
        Image.new('L', (28, 28)).save(tmp_path / name / '1.png')
    (tmp_path / 'b' / 'broken.png').write_bytes(b'\x89PNG not really')
    with pytest.raises(ValueError, match='broken.png'):
        task.adapt(str(tmp_path))
    with pytest.raises(ValueError, match='broken.png'):
        task.predict([queries[0], str(tmp_path / 'b' / 'broken.png')])


def test_a_single_class_is_refused(custom_task, tmp_path):
    task = custom_task[0]
    (tmp_path / 'only').mkdir()
    Image.new('L', (28, 28)).save(tmp_path / 'only' / '1.png')
    with pytest.raises(ValueError, match='at least 2 classes'):
        task.adapt(str(tmp_path))


def test_predict_before_adapt_and_bad_arrays(custom_task):
    task = custom_task[0]
    fresh = CustomTask(task.model, task.model_cfg, task.dataset_cfg)
    with pytest.raises(RuntimeError, match='adapt'):
        fresh.predict(np.zeros((28, 28), np.uint8))
    with pytest.raises(ValueError, match='uint8'):
        task.predict(np.zeros((28, 28), np.float32))


@pytest.mark.parametrize('config', [
    'protonet/protonet_conv4_1xb1_omniglot_5way-1shot.py',
    'maml/maml_conv4_1xb32_omniglot_5way-1shot.py',
    'reptile/reptile_conv4_1xb5_omniglot_5way-1shot.py',
    'mtl/mtl-maml_conv4_1xb8_omniglot_5way-1shot.py',
    'mtl-ss/mtl-ss_conv4_1xb2_omniglot_5way-1shot.py'
])
def test_meta_learners_through_the_same_protocol(custom_task, tmp_path,
                                                 config):
    """Any classifier of the meta-test protocol adapts, predicts and reloads
    (ProtoNet, MAML, Reptile, MTL, Sun et al.'s SS, from a weights-only
    state_dict checkpoint). Adapting learns the support labels: an
    untrained model adapted to the support drawings, and adapted to them
    relabelled (class c -> c + 1), each predicts the drawings' labels it was
    given more often than the other labels, which no task state
    independent of the support labels can do."""
    _, support, queries, _ = custom_task
    config = osp.join(REPO, 'configs', config)
    torch.manual_seed(0)
    model, _ = init_model(config)
    checkpoint = str(tmp_path / 'model.pth')
    torch.save(model.state_dict(), checkpoint)
    task = CustomTask.from_config(config, checkpoint).adapt(support)
    probs = task.probabilities(queries)
    assert probs.shape == (len(queries), 5)
    pairs = read_support_folder(support)
    images = task._inputs([image for image, _ in pairs])
    labels = torch.tensor([task.classes.index(c) for _, c in pairs])
    assert torch.equal(probs, torch.softmax(task.model.predict_query(
        task.task_state, task._inputs(queries)), -1))
    for shift in (0, 1):
        shifted = (labels + shift) % 5
        state = task.model.adapt(images, shifted, 5)
        predicted = task.model.predict_query(state, images).argmax(-1)
        own = (predicted == shifted).float().mean()
        other = (predicted == (labels + 1 - shift) % 5).float().mean()
        assert own > other, (shift, own, other)
    task.save(str(tmp_path / 'adapted.pth'))
    reloaded = CustomTask.load(str(tmp_path / 'adapted.pth'))
    assert torch.equal(reloaded.probabilities(queries), probs)


def test_rgb_configs_prepare_images_as_their_test_pipeline(tmp_path):
    """84x84 RGB configs: a user's file gives exactly what the config's own
    test pipeline (LoadImage ...) gives; grey images and arrays of
    any size become 3 x 84 x 84."""
    cfg = Config.fromfile(
        osp.join(REPO, 'configs', 'transfer',
                 'baseline_conv4_1xb128_mini-imagenet_5way-1shot.py'))
    dataset_cfg = find_test_dataset_cfg(cfg)
    prepare = ImagePreparer(dataset_cfg)
    rgb = np.random.default_rng(0).integers(0, 256, (100, 120, 3), np.uint8)
    path = str(tmp_path / 'photo.jpg')
    Image.fromarray(rgb).save(path)
    expected = Compose(dataset_cfg['pipeline'])(
        dict(img_path=path, gt_label=0))['img']
    assert expected.shape == (3, 84, 84)
    assert torch.equal(prepare(path, path), expected)
    png = str(tmp_path / 'photo.png')
    Image.fromarray(rgb).save(png)
    assert torch.equal(prepare(rgb, 'array'), prepare(png, png))
    grey = prepare(Image.fromarray(rgb[..., 0]).resize((50, 70)), 'grey')
    assert grey.shape == (3, 84, 84)
    assert torch.equal(grey[0], grey[1]) and torch.equal(grey[1], grey[2])
    (tmp_path / 'bad.jpg').write_bytes(b'\xff\xd8 truncated')
    with pytest.raises(ValueError, match='bad.jpg'):
        prepare(str(tmp_path / 'bad.jpg'), str(tmp_path / 'bad.jpg'))
