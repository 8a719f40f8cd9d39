"""The web app's parts without a browser: upload checks (zip paths, links,
sizes, non-images), the work behind the page (build, quality estimate,
CSV, preview, domain warnings, saved models), the model index API and
tools/misc/export_model.py."""
import doctest
import hashlib
import importlib
import io
import os
import os.path as osp
import zipfile

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from conftest import REPO, load_script
from mmmtl.apis import (DEFAULT_MODEL, CustomTask, find_test_dataset_cfg,
                        get_model, init_model, list_models, model_info)
from mmmtl.webapp import UploadStore, Workbench, load_saved_task
from mmmtl.webapp.workbench import check_classes
from webapp_fixtures import SHAPES, export_tiny_model, write_shapes


def png_bytes(array) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(array, np.uint8)).save(buffer, 'png')
    return buffer.getvalue()


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    folder = str(tmp_path_factory.mktemp('tiny'))
    config, weights, sha256 = export_tiny_model(folder)
    shapes = write_shapes(osp.join(folder, 'shapes'))
    classes = {name: [(p, osp.basename(p)) for p in paths]
               for name, paths in shapes.items()}
    return dict(folder=folder, config=config, weights=weights,
                sha256=sha256, classes=classes,
                bench=Workbench.from_config(config, weights))


def test_zip_members_stay_inside_and_are_counted(tmp_path):
    archive = tmp_path / 'upload.zip'
    good = png_bytes(np.full((6, 6, 3), 200))
    with zipfile.ZipFile(archive, 'w') as z:
        z.writestr('cats/a.png', good)
        z.writestr('data/dogs/b.png', good)
        z.writestr('../evil.png', good)
        z.writestr('/abs/evil.png', good)
        z.writestr('cats/readme.txt', b'text')
        z.writestr('loose.png', good)
        z.writestr('__MACOSX/cats/._a.png', b'x')
        link = zipfile.ZipInfo('cats/link.png')
        link.external_attr = (0o120777 << 16)
        z.writestr(link, '/etc/passwd')
    store = UploadStore(str(tmp_path / 'store'))
    classes, skipped = store.add_zip(str(archive))
    assert sorted(classes) == ['cats', 'dogs']
    assert [n for _, n in classes['cats']] == ['cats/a.png']
    assert [n for _, n in classes['dogs']] == ['data/dogs/b.png']
    assert len(skipped) == 5, skipped
    joined = '\n'.join(skipped)
    assert 'upload.zip:../evil.png: unsafe path' in joined
    assert 'upload.zip:/abs/evil.png: unsafe path' in joined
    assert 'cats/link.png: a symbolic link' in joined
    assert 'cats/readme.txt: not an image' in joined
    assert 'loose.png: not in a class folder' in joined
    # only the two images were written, under generated names
    assert not (tmp_path / 'evil.png').exists()
    stored = os.listdir(tmp_path / 'store')
    assert len(stored) == 2
    with open(classes['cats'][0][0], 'rb') as f:
        assert f.read() == good


def test_uploads_refuse_large_broken_and_non_images(tmp_path):
    store = UploadStore(str(tmp_path / 'store'), max_image_mb=0.01,
                        max_megapixels=0.001)
    big = png_bytes(np.zeros((40, 40)))  # 1600 pixels > 1000
    with pytest.raises(ValueError, match=r'big.png: too large \(40x40'):
        store.add_image('big.png', big)
    with pytest.raises(ValueError, match=r'huge.bin: too large \(0.0'):
        store.add_image('huge.bin', b'\0' * 20000)
    good = png_bytes(np.zeros((10, 10)))
    with pytest.raises(ValueError, match='cut.png: not an image'):
        store.add_image('cut.png', good[:len(good) // 2])
    assert os.listdir(tmp_path / 'store') == []
    # other formats are kept as PNG; JPEG and PNG as uploaded
    buffer = io.BytesIO()
    Image.fromarray(np.zeros((5, 5, 3), np.uint8)).save(buffer, 'bmp')
    assert store.add_image('a.bmp', buffer.getvalue()).endswith('.png')
    files = [tmp_path / 'x.txt', tmp_path / 'y.png']
    files[0].write_text('hello')
    files[1].write_bytes(good)
    images, skipped = store.add_files([str(p) for p in files])
    assert [n for _, n in images] == ['y.png']
    assert skipped == ['x.txt: not an image (cannot identify image file)']


def test_build_refuses_empty_and_single_classes(tiny):
    with pytest.raises(ValueError, match="class 'b' has no images"):
        check_classes({'a': [('x', 'x')], 'b': []})
    with pytest.raises(ValueError, match="at least two classes.*only 'a'"):
        tiny['bench'].build({'a': tiny['classes']['red circle']})
    with pytest.raises(ValueError, match='at least two classes: add'):
        tiny['bench'].build({})


def test_quality_estimate_is_the_hand_cross_validation(tiny, monkeypatch):
    bench, classes = tiny['bench'], tiny['classes']
    supports = []
    adapt = CustomTask.adapt

    def recorded(task, support):
        supports.append(sorted(p for p, _ in support))
        return adapt(task, support)

    monkeypatch.setattr(CustomTask, 'adapt', recorded)
    accuracy, confusion, held = bench.estimate(classes, folds=5)
    monkeypatch.setattr(CustomTask, 'adapt', adapt)
    # fold f adapts to every image but image f of each class
    assert supports == [
        sorted(p for images in classes.values()
               for i, (p, _) in enumerate(images) if i != fold)
        for fold in range(3)
    ]
    # by hand: 3 images per class, so 3 folds; fold f holds image f of
    # every class and is predicted by a task adapted to the others
    names = list(classes)
    expected = np.zeros((3, 3), np.int64)
    for fold in range(3):
        support = [(p, n) for n in names
                   for i, (p, _) in enumerate(classes[n]) if i != fold]
        task = CustomTask.from_config(tiny['config'], tiny['weights'])
        task.adapt(support)
        for n in names:
            top = task.predict(classes[n][fold][0])[0]['classes'][0]
            expected[names.index(n), names.index(top)] += 1
    assert held == 9
    np.testing.assert_array_equal(confusion, expected)
    assert accuracy == pytest.approx(np.trace(expected) / 9)
    # a class of one image is never held out; it stays in every fold
    fewer = dict(classes, **{names[0]: classes[names[0]][:1]})
    assert bench.estimate(fewer)[2] == 6


def test_classify_and_csv_match_the_task(tiny, tmp_path):
    bench = tiny['bench']
    task = bench.build(tiny['classes'])
    images = [image for group in tiny['classes'].values()
              for image in group]
    reference = task.probabilities([p for p, _ in images])
    top = Workbench.classify(task, images[0][0], topk=2)
    order = reference[0].argsort(descending=True)[:2].tolist()
    assert list(top) == [task.classes[i] for i in order]
    assert list(top.values()) == pytest.approx(reference[0][order].tolist())
    out = bench.classify_to_csv(task, images, str(tmp_path / 'p.csv'))
    rows = [line.split(',') for line in open(out).read().splitlines()]
    assert rows[0] == ['image', 'top1', 'top1_probability'] + [
        f'p({n})' for n in SHAPES]
    assert len(rows) == 10
    for row, probs in zip(rows[1:], reference):
        assert row[1] == task.classes[int(probs.argmax())]
        np.testing.assert_allclose([float(v) for v in row[3:]], probs,
                                   atol=1e-4)


def test_preview_and_warnings_of_a_grey_inverted_model(tmp_path):
    config = osp.join(REPO, 'configs', 'transfer',
                      'baseline_conv4_1xb128_omniglot_5way-1shot.py')
    model, cfg = init_model(config)
    bench = Workbench(CustomTask(model, cfg.to_dict()['model'],
                                 find_test_dataset_cfg(cfg)), 'omniglot')
    assert bench.input_summary().startswith('28x28 grey, inverted')
    photo = tmp_path / 'photo.png'
    rng = np.random.default_rng(0)
    colours = rng.integers(100, 256, (300, 300, 3)).astype(np.uint8)
    colours[..., 2] //= 3  # clearly coloured, mostly bright
    Image.fromarray(colours).save(photo)
    warnings = bench.domain_warnings([str(photo)])
    assert len(warnings) == 3, warnings
    assert warnings[0].startswith('1 of 1 images are in colour')
    assert 'about 300 px) are shrunk to 28x28' in warnings[1]
    assert 'mostly bright' in warnings[2]
    # a character: black strokes on white, small: no warning
    char = np.full((28, 28), 255, np.uint8)
    char[5:23, 13:15] = 0
    Image.fromarray(char).save(tmp_path / 'char.png')
    assert bench.domain_warnings([str(tmp_path / 'char.png')]) == []
    shown = bench.preview(str(tmp_path / 'char.png'))
    assert shown.shape == (140, 140, 3)  # 28 px, 5 times
    # inverted: the white background is black, the stroke white
    assert (shown[0, 0] == 0).all() and (shown[14 * 5, 13 * 5] == 255).all()


def test_saved_models_load_weights_only(tiny, tmp_path):
    task = tiny['bench'].build(tiny['classes'])
    saved = str(tmp_path / 'custom.pth')
    task.save(saved)
    loaded = load_saved_task(saved)
    query = tiny['classes']['red circle'][0][0]
    torch.testing.assert_close(loaded.probabilities([query]),
                               task.probabilities([query]))
    cut = tmp_path / 'cut.pth'
    cut.write_bytes(open(saved, 'rb').read()[:500])
    with pytest.raises(ValueError, match='cut.pth is not a readable saved '
                       'model'):
        load_saved_task(str(cut))
    marker = tmp_path / 'ran'

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), 'w'))

    evil = tmp_path / 'evil.pth'
    torch.save({'format': Payload()}, evil)
    with pytest.raises(ValueError, match='evil.pth is not a readable saved '
                       'model: .*refused by weights-only'):
        load_saved_task(str(evil))
    assert not marker.exists()
    with pytest.raises(ValueError, match='not an adapted task'):
        load_saved_task(tiny['weights'])


def test_export_keeps_only_the_weights(tiny):
    saved = torch.load(tiny['weights'], weights_only=True)
    model, _ = init_model(tiny['config'])
    assert list(saved) == list(model.state_dict())
    with open(tiny['weights'], 'rb') as f:
        assert hashlib.sha256(f.read()).hexdigest() == tiny['sha256']
    leftovers = [n for n in os.listdir(osp.dirname(tiny['weights']))
                 if n != 'tiny.pth']
    assert leftovers == []
    mask = os.umask(0)
    os.umask(mask)
    assert os.stat(tiny['weights']).st_mode & 0o777 == 0o666 & ~mask


def write_index(root, tiny, sha256=None) -> None:
    os.makedirs(osp.join(root, 'configs', 'tiny'))
    os.makedirs(osp.join(root, 'checkpoints'))
    with open(osp.join(root, 'model-index.yml'), 'w') as f:
        yaml.safe_dump(dict(Import=['configs/tiny/metafile.yml']), f)
    os.link(tiny['weights'], osp.join(root, 'checkpoints', 'tiny.pth'))
    models = [
        dict(Name='tiny_model', Config=tiny['config'],
             Weights='checkpoints/tiny.pth',
             **{'Weights SHA256': sha256 or tiny['sha256']}),
        dict(Name='untrained_model', Config=tiny['config'],
             Command='python tools/train.py tiny.py --time-budget 5')
    ]
    with open(osp.join(root, 'configs', 'tiny', 'metafile.yml'), 'w') as f:
        yaml.safe_dump(dict(Models=models), f)


def test_get_model_reads_the_index_and_checks_the_weights(tiny, tmp_path):
    root = str(tmp_path / 'repo')
    write_index(root, tiny)
    assert list_models(root=root) == ['tiny_model', 'untrained_model']
    assert list_models(root=root, with_weights=True) == ['tiny_model']
    assert list_models('untrained*', root=root) == ['untrained_model']
    model = get_model('tiny_model', root=root)
    reference, _ = init_model(tiny['config'], tiny['weights'])
    for (k, v), (k2, v2) in zip(model.state_dict().items(),
                                reference.state_dict().items()):
        assert k == k2 and torch.equal(v, v2)
    bench = Workbench.from_model_zoo('tiny_model', root=root)
    query = tiny['classes']['green square'][0][0]
    torch.testing.assert_close(
        bench.build(tiny['classes']).probabilities([query]),
        tiny['bench'].build(tiny['classes']).probabilities([query]))
    with pytest.raises(FileNotFoundError) as err:
        get_model('untrained_model', root=root)
    message = str(err.value)
    assert 'names no Weights' in message
    assert 'python tools/train.py tiny.py --time-budget 5' in message
    assert ('python tools/misc/export_model.py ' + tiny['config']) in message
    with pytest.raises(KeyError, match="'nothing' is not in"):
        model_info('nothing', root=root)
    os.remove(osp.join(root, 'checkpoints', 'tiny.pth'))
    with pytest.raises(FileNotFoundError, match='tiny.pth is not present'):
        get_model('tiny_model', root=root)


def test_get_model_refuses_weights_of_another_hash(tiny, tmp_path):
    root = str(tmp_path / 'repo')
    write_index(root, tiny, sha256='0' * 64)
    with pytest.raises(ValueError, match=f'SHA-256 {tiny["sha256"]} '
                       'differs from the 0000'):
        get_model('tiny_model', root=root)


def test_the_default_model_or_how_to_make_it():
    if DEFAULT_MODEL in list_models(with_weights=True):
        model = get_model()
        assert model.cfg.filename.endswith('.py')
        return
    with pytest.raises(FileNotFoundError) as err:
        get_model()
    message = str(err.value)
    assert f'model {DEFAULT_MODEL}' in message
    assert 'python tools/train.py configs/transfer/' in message
    assert 'python tools/misc/export_model.py configs/transfer/' in message


def test_the_app_removes_its_files(tiny):
    from mmmtl.webapp.app import WebApp, choices_and_loader
    choices, load = choices_and_loader(tiny['config'], tiny['weights'])
    app = WebApp(load, choices)
    state = {}
    images = [p for p, _ in tiny['classes']['red circle']]
    status, rows, preview, caption = app.add_class('red', images, state)
    assert status == '3 images added.' and rows == [['red', 3]]
    assert caption == 'The model sees 32x32 RGB images.'
    with pytest.raises(ValueError, match='at least two classes'):
        app.build(state)
    with pytest.raises(ValueError, match='build the model .* first'):
        app.save(state)
    assert os.listdir(osp.join(app.folder, 'images'))
    app.close()
    assert not osp.exists(app.folder)


def test_webapp_tool_refuses_bad_arguments_and_an_absent_model(capsys):
    webapp = load_script('tools/webapp.py')
    for argv, message in (
        (['a.py'], 'give both CONFIG and CHECKPOINT, or neither'),
        (['a.py', 'b.pth', '--model', 'x'], 'CONFIG CHECKPOINT or --model')):
        with pytest.raises(SystemExit):
            webapp.parse_args(argv)
        assert message in capsys.readouterr().err
    pytest.importorskip('gradio')
    with pytest.raises(SystemExit) as err:
        webapp.main(['--model', 'no_such_model'])
    assert "error: model 'no_such_model' is not in" in str(err.value)


@pytest.mark.parametrize('name, examples', [('mmmtl.apis.model_zoo', 1),
                                            ('mmmtl.webapp.uploads', 9)])
def test_docstring_examples_run(name, examples):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    assert result.attempted >= examples


def test_the_app_classifies_a_zip_to_csv_and_loads_saved_models(
        tiny, tmp_path):
    from mmmtl.webapp.app import WebApp, choices_and_loader
    app = WebApp(*reversed(choices_and_loader(tiny['config'],
                                              tiny['weights'])))
    try:
        state = {}
        with pytest.raises(ValueError, match='build the model'):
            app.classify_many([tiny['weights']], state)
        for name, images in tiny['classes'].items():
            app.add_class(name, [p for p, _ in images], state)
        status, picture = app.build(state)
        assert status.startswith('Built: 3 classes: red circle (3), ')
        assert 'Quality estimate: **' in status and picture.ndim == 3
        archive = tmp_path / 'queries.zip'
        queries = [p for images in tiny['classes'].values()
                   for p, _ in images][::4]
        with zipfile.ZipFile(archive, 'w') as z:
            for i, path in enumerate(queries):
                z.write(path, f'q{i}.png')
            z.writestr('sub/readme.txt', b'text')
        status, out = app.classify_many([str(archive)], state)
        assert status.startswith('3 images classified.\n\n1 files skipped: '
                                 'queries.zip:sub/readme.txt: not an image')
        rows = open(out).read().splitlines()[1:]
        probs = state['task'].probabilities(queries)
        assert [r.split(',')[0] for r in rows] == ['q0.png', 'q1.png',
                                                   'q2.png']
        assert [r.split(',')[1] for r in rows] == [
            state['task'].classes[int(p.argmax())] for p in probs]
        status, saved = app.save(state)
        assert status == ('Saved 3 classes: red circle, green square, '
                          'blue triangle.')
        fresh = {}
        assert app.load(saved, fresh)[0].startswith(
            'Loaded custom_model.pth: 3 classes (red circle, green square, '
            'blue triangle); the model sees 32x32 RGB')
        torch.testing.assert_close(fresh['task'].probabilities(queries),
                                   probs)
        cut = tmp_path / 'cut.pth'
        cut.write_bytes(open(saved, 'rb').read()[:300])
        with pytest.raises(ValueError, match='cut.pth is not a readable'):
            app.load(str(cut), fresh)
        assert fresh['task'] is not None  # the loaded model is kept
    finally:
        app.close()
