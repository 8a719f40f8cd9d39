"""The model zoo: every metafile entry names an existing config and carries
its protocol, its numbers are the ones of the doc it cites, and the
generated docs/model_zoo.md, model-index.yml and per-folder READMEs are
what tools/misc/gen_model_zoo.py makes of the metafiles."""
import glob
import hashlib
import os.path as osp
import re
import shutil

import pytest
import yaml

from conftest import REPO, load_script

gen_model_zoo = load_script('tools/misc/gen_model_zoo.py')

METAFILES = sorted(glob.glob(osp.join(REPO, 'configs', '*', 'metafile.yml')))


def models():
    for path in METAFILES:
        with open(path) as f:
            meta = yaml.safe_load(f)
        for model in meta['Models']:
            yield osp.relpath(path, REPO), meta, model


def test_every_method_folder_with_results_has_a_metafile():
    assert {osp.basename(osp.dirname(p)) for p in METAFILES} == {
        'maml', 'mtl', 'mtl-ss', 'protonet', 'reptile', 'transfer'
    }


def test_metafile_entries_name_existing_configs():
    names = [model['Name'] for _, _, model in models()]
    assert len(names) == len(set(names)) >= 20
    for path, meta, model in models():
        assert osp.isfile(osp.join(REPO, model['Config'])), (path, model)
        # a config of the folder the metafile describes
        assert osp.dirname(model['Config']) == osp.dirname(path)
        assert model['In Collection'] in [
            c['Name'] for c in meta['Collections']
        ]
        assert osp.isfile(osp.join(REPO, osp.dirname(path), 'README.md'))
        assert 'http' not in model['Command'], 'no checkpoint URLs'
        for result in model['Results']:
            metrics = result['Metrics']
            assert set(gen_model_zoo.METRIC_KEYS) <= set(metrics), model
            # the unseen classes: the test split, miniImageNet's val+test
            # (Eshratifar et al.'s 36 classes), or every class of a domain
            # nothing was trained on (cross-domain); CUB's novel species ('test')
            assert (result['Dataset'], metrics['Split']) in {
                ('Omniglot', 'test'), ('miniImageNet', 'test'),
                ('miniImageNet', 'val+test'), ('CUB', 'all'),
                ('CUB', 'test'), ('Flowers-102', 'all')
            }, (model['Name'], result)
            assert 0 < metrics['CI95'] < metrics['Accuracy'] <= 100


def test_commands_name_existing_configs_and_scripts():
    for _, _, model in models():
        command = model['Command']
        for config in re.findall(r'configs/\S+\.py', command):
            assert osp.isfile(osp.join(REPO, config)), (model['Name'], config)
        for script in re.findall(r'(?:tools|benchmarks)/\S+\.(?:py|sh)',
                                 command):
            assert osp.isfile(osp.join(REPO, script)), (model['Name'], script)
        # the command trains this config, directly or through a benchmark
        assert model['Config'] in command or 'benchmarks/' in command


def test_results_are_the_numbers_of_the_cited_doc():
    """Each accuracy and its CI appear side by side in the Source doc
    ('96.56 +- 0.31', '| 97.98 | +- 0.26 |', ...)."""
    for _, _, model in models():
        with open(osp.join(REPO, model['Source'])) as f:
            doc = f.read()
        for result in model['Results']:
            m = result['Metrics']
            pattern = (re.escape(f"{m['Accuracy']:.2f}") +
                       r'[\s|*]*\+-\s*' + re.escape(f"{m['CI95']:.2f}"))
            assert re.search(pattern, doc), (model['Name'], m, model['Source'])


def test_generated_files_match_the_metafiles():
    for path, content in gen_model_zoo.generated_files(REPO).items():
        with open(osp.join(REPO, path)) as f:
            assert f.read() == content, (
                f'{path} is out of date: python tools/misc/gen_model_zoo.py')
    assert gen_model_zoo.main(['--check']) == 0


def test_model_zoo_lists_every_result():
    with open(osp.join(REPO, 'docs', 'model_zoo.md')) as f:
        zoo = f.read()
    for _, _, model in models():
        assert f"### {model['Name']}\n" in zoo
        for result in model['Results']:
            m = result['Metrics']
            assert (f"| {m['Ways']} | {m['Shots']} | {m['Queries']} | "
                    f"{m['Episodes']} | {m['Seed']} | {m['Accuracy']:.2f} | "
                    f"+- {m['CI95']:.2f} |") in zoo


def zoo_copy(tmp_path):
    """A repository root holding the MAML metafile, its README, configs
    and docs: the generator's input."""
    root = tmp_path / 'repo'
    (root / 'docs').mkdir(parents=True)
    shutil.copytree(osp.join(REPO, 'configs', 'maml'), root / 'configs' /
                    'maml')
    for doc in ('meta_learners.md', 'mtl.md', 'cross_domain.md'):
        shutil.copy(osp.join(REPO, 'docs', doc), root / 'docs' / doc)
    return root


def test_check_reports_a_stale_zoo_and_writing_fixes_it(tmp_path, capsys):
    root = zoo_copy(tmp_path)
    assert gen_model_zoo.main(['--root', str(root), '--check']) == 1
    assert 'docs/model_zoo.md' in capsys.readouterr().out
    assert gen_model_zoo.main(['--root', str(root)]) == 0
    assert gen_model_zoo.main(['--root', str(root), '--check']) == 0
    # a number changed in the metafile makes the zoo stale again
    metafile = root / 'configs' / 'maml' / 'metafile.yml'
    metafile.write_text(metafile.read_text().replace(
        'Accuracy: 96.56', 'Accuracy: 96.57'))
    assert gen_model_zoo.main(['--root', str(root), '--check']) == 1
    # (model-index.yml carries the numbers too, for mim search)
    assert ('gen_model_zoo.py): docs/model_zoo.md, model-index.yml, '
            'configs/maml/README.md') in capsys.readouterr().out


def test_a_missing_config_is_named(tmp_path):
    root = zoo_copy(tmp_path)
    (root / 'configs' / 'maml' /
     'maml_conv4_1xb4_omniglot_20way-1shot.py').unlink()
    with pytest.raises(ValueError,
                       match=r'configs/maml/metafile.yml: model '
                       r'maml_conv4_1xb4_omniglot_20way-1shot_study-10min: '
                       r'config configs/maml/maml_conv4_1xb4_omniglot_20way-'
                       r'1shot.py does not exist'):
        gen_model_zoo.main(['--root', str(root), '--check'])


def test_a_result_without_its_protocol_is_refused(tmp_path):
    root = zoo_copy(tmp_path)
    metafile = root / 'configs' / 'maml' / 'metafile.yml'
    metafile.write_text(metafile.read_text().replace(
        '          Episodes: 600\n', '', 1))
    with pytest.raises(ValueError, match='20k-iters: a result misses '
                       'Episodes'):
        gen_model_zoo.main(['--root', str(root), '--check'])


def mim_search_rows(index_path):
    """What ``mim search`` shows per model, as openmim 0.3.9 builds it
    (mim/commands/search.py, convert2df): every result's metrics become
    ``<dataset>/<metric name>`` columns, a later result on the same dataset
    overwriting an earlier one's."""
    with open(index_path) as f:
        index = yaml.safe_load(f)
    rows = {}
    for model in index['Models']:
        row = rows.setdefault(model['Name'], {})
        for result in model.get('Results', []):
            for key, value in result['Metrics'].items():
                name = '_'.join(key.split()).lower()
                row[f"{result['Dataset'].lower()}/{name}"] = value
    return rows


def test_mim_search_shows_every_result_of_an_entry():
    rows = mim_search_rows(osp.join(REPO, 'model-index.yml'))
    assert len(rows) == len(list(models()))
    for _, _, model in models():
        row = rows[model['Name']]
        for result in model['Results']:
            m = result['Metrics']
            cell = f"{m['Ways']}-way_{m['Shots']}-shot"
            dataset = result['Dataset'].lower()
            assert row[f'{dataset}/{cell}_accuracy'] == m['Accuracy']
            assert row[f'{dataset}/{cell}_ci95'] == m['CI95']
            assert row[f'{dataset}/{cell}_protocol'] == (
                f"{m['Episodes']} episodes x {m['Queries']} queries, seed "
                f"{m['Seed']}, {m['Split']} split")
    quick = rows['mtl-maml_conv4_1xb8_omniglot_5way-1shot_quick-start']
    assert [quick[f'omniglot/5-way_{k}-shot_accuracy'] for k in (1, 5, 10)
            ] == [90.56, 94.50, 93.54]
def test_weights_of_an_entry_are_checked_and_listed(tmp_path):
    root = zoo_copy(tmp_path)
    (root / 'checkpoints').mkdir()
    weights = root / 'checkpoints' / 'maml.pth'
    weights.write_bytes(b'weights of the study model')
    sha256 = hashlib.sha256(weights.read_bytes()).hexdigest()
    name = 'maml_conv4_1xb4_omniglot_20way-1shot_study-10min'
    metafile = root / 'configs' / 'maml' / 'metafile.yml'
    text = metafile.read_text()
    entry = f'  - Name: {name}\n'
    assert entry in text
    metafile.write_text(text.replace(
        entry, entry + '    Weights: checkpoints/maml.pth\n'
        f'    Weights SHA256: {"0" * 64}\n'))
    with pytest.raises(ValueError, match=f'{name}: Weights checkpoints/'
                       f'maml.pth has SHA-256 {sha256}, not'):
        gen_model_zoo.main(['--root', str(root), '--check'])
    metafile.write_text(text.replace(
        entry, entry + '    Weights: checkpoints/maml.pth\n'
        f'    Weights SHA256: {sha256}\n'))
    assert gen_model_zoo.main(['--root', str(root)]) == 0
    assert (f'- weights: [checkpoints/maml.pth](../checkpoints/maml.pth) '
            f"(SHA-256 {sha256}), loaded by `mmmtl.apis.get_model('{name}')`"
            ) in (root / 'docs' / 'model_zoo.md').read_text()
    weights.unlink()
    with pytest.raises(ValueError, match=f'{name}: Weights checkpoints/'
                       'maml.pth does not exist'):
        gen_model_zoo.main(['--root', str(root), '--check'])
