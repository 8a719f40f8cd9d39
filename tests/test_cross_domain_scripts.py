"""benchmarks/cross_domain.sh and cub_study.sh with a stand-in ``python``
on PATH that records its arguments: the meta-test commands each script
issues (cells, adapters, domains, checkpoints), finished jobs skipped, and
the clear stops (no --adapter option, no table1 directory, no data)."""
import os
import os.path as osp
import subprocess

from conftest import REPO

CROSS = osp.join(REPO, 'benchmarks', 'cross_domain.sh')
CUB = osp.join(REPO, 'benchmarks', 'cub_study.sh')


def fake_python(tmp_path, help_text: str) -> dict:
    """An environment whose ``python`` appends its arguments to calls.txt
    and prints ``help_text`` for ``--help``."""
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    script = bin_dir / 'python'
    script.write_text('#!/bin/sh\n'
                      f'echo "$*" >> {tmp_path}/calls.txt\n'
                      'case "$*" in *--help*) echo "' + help_text + '";; '
                      '*"print("*) echo 5.0;; esac\n')
    script.chmod(0o755)
    return dict(os.environ, PATH=f'{bin_dir}:{os.environ["PATH"]}')


def calls(tmp_path) -> list:
    path = tmp_path / 'calls.txt'
    return path.read_text().splitlines() if path.exists() else []


def test_cross_domain_stops_without_the_adapter_option(tmp_path):
    env = fake_python(tmp_path, 'usage: test.py CONFIG CHECKPOINT')
    result = subprocess.run(['bash', CROSS, str(tmp_path)],
                            cwd=tmp_path,
                            env=env,
                            capture_output=True,
                            text=True)
    assert result.returncode == 2
    assert 'tools/test.py has no --adapter option' in result.stderr
    assert 'ADAPTERS=own' in result.stderr
    assert [c for c in calls(tmp_path) if '--help' not in c] == []


def test_cross_domain_stops_without_the_table1_directory(tmp_path):
    env = fake_python(tmp_path, '--adapter NAME')
    result = subprocess.run(
        ['bash', CROSS, str(tmp_path / 'nowhere')],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True)
    assert result.returncode == 1
    assert f'{tmp_path}/nowhere not found' in result.stderr


def test_cross_domain_commands(tmp_path):
    env = fake_python(tmp_path, '--adapter NAME')
    table1 = tmp_path / 'table1'
    (table1 / 'maml').mkdir(parents=True)
    (table1 / 'maml' / 'best_accuracy_mean_iter_9.pth').write_text('')
    for folder in ('data/flowers102', 'data/CUB_200_2011/images'):
        (tmp_path / folder).mkdir(parents=True)
    env.update(
        MODELS='maml protonet',
        ADAPTERS='own centroid',
        STREAMS='1',
        EPISODES_LONG='300',
        OUT=str(tmp_path / 'out'))
    result = subprocess.run(['bash', CROSS, str(table1)],
                            cwd=tmp_path,
                            env=env,
                            capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stderr
    assert 'protonet: no best_accuracy_mean_iter_*.pth' in result.stdout
    tests = [
        c for c in calls(tmp_path)
        if c.startswith('tools/test.py') and '--help' not in c
    ]
    # 2 domains x 2 adapters x (5-way 1/5, 5-way 20, 20-way), all of MAML's
    # checkpoint
    assert len(tests) == 12
    ckpt = f'{table1}/maml/best_accuracy_mean_iter_9.pth'
    config = 'configs/maml/maml_conv4_1xb4_mini-imagenet-32px_5way-5shot.py'
    for domain, root in (('cub', 'data/CUB_200_2011/images'),
                         ('flowers102', 'data/flowers102')):
        for adapter in ('own', 'centroid'):
            work = f'{tmp_path}/out/{domain}/{adapter}/maml'
            options = ('--cfg-options test_dataloader.dataset.dataset.type='
                       'FewShotImageFolder test_dataloader.dataset.dataset.'
                       f'data_root={root} test_dataloader.dataset.dataset.'
                       'split=all')
            chosen = '' if adapter == 'own' else '--adapter centroid '
            head = (f'tools/test.py {config} {ckpt} --work-dir {work} '
                    '--seed 0 --queries 15 --episodes {} ' + chosen)
            assert head.format(600) + f'--ways 5 --shots 1 5 {options}' in tests
            assert head.format(300) + f'--ways 5 --shots 20 {options}' in tests
            assert head.format(300) + f'--ways 20 --shots 5 {options}' in tests
            assert osp.isfile(f'{work}.5way.done')
            assert osp.isfile(f'{work}.5way20.done')
    assert calls(tmp_path)[-1] == (
        f'benchmarks/collect_cross_domain.py {tmp_path}/out')
    # run again: every job done, nothing meta-tested
    (tmp_path / 'calls.txt').unlink()
    subprocess.run(['bash', CROSS, str(table1)],
                   cwd=tmp_path,
                   env=env,
                   check=True,
                   capture_output=True)
    assert [
        c for c in calls(tmp_path)
        if c.startswith('tools/test.py') and '--help' not in c
    ] == []


def test_cub_study_needs_the_data(tmp_path):
    env = fake_python(tmp_path, '')
    result = subprocess.run(['bash', CUB, 'train'],
                            cwd=tmp_path,
                            env=env,
                            capture_output=True,
                            text=True)
    assert result.returncode == 1
    assert 'data/CUB_200_2011/images not found' in result.stderr
    assert calls(tmp_path) == []


def test_cub_study_trains_then_tests_on_novel_species(tmp_path):
    env = fake_python(tmp_path, '')
    (tmp_path / 'data/CUB_200_2011/images').mkdir(parents=True)
    out = tmp_path / 'out'
    env.update(OUT=str(out), STREAMS='1', BUDGET='10')
    # the trainings' checkpoints, as tools/train.py would leave them
    names = ('maml-1shot', 'maml-5shot', 'protonet-1shot', 'protonet-5shot',
             'baseline-plus', 'mtl-maml-1shot', 'mtl-maml-5shot',
             'baseline-half', 'mtl-maml-warm-1shot', 'mtl-maml-warm-5shot')
    for name in names:
        (out / name).mkdir(parents=True)
        (out / name / 'best_accuracy_mean_iter_3.pth').write_text('')
    subprocess.run(['bash', CUB, 'train'],
                   cwd=tmp_path,
                   env=env,
                   check=True,
                   capture_output=True)
    trains = [c for c in calls(tmp_path) if c.startswith('tools/train.py')]
    assert len(trains) == len(names)
    budget = '--fit-schedule --budget-clock cpu'
    assert (f'tools/train.py configs/maml/maml_conv4_1xb4_cub-32px_5way-'
            f'1shot.py --work-dir {out}/maml-1shot --time-budget 10 '
            f'{budget}') in trains
    assert (f'tools/train.py configs/mtl/mtl-maml_conv4_1xb4_cub-32px_5way-'
            f'5shot.py --work-dir {out}/mtl-maml-warm-5shot --time-budget '
            f'5.0 {budget} --cfg-options load_from={out}/baseline-half/'
            'best_accuracy_mean_iter_3.pth load_from_strict=False') in trains
    subprocess.run(['bash', CUB, 'test'],
                   cwd=tmp_path,
                   env=env,
                   check=True,
                   capture_output=True)
    tests = [c for c in calls(tmp_path) if c.startswith('tools/test.py')]
    assert len(tests) == 10  # 5 models x 1 / 5 shots
    assert (f'tools/test.py configs/maml/maml_conv4_1xb4_cub-32px_5way-'
            f'5shot.py {out}/maml-1shot/best_accuracy_mean_iter_3.pth '
            f'--work-dir {out}/test/maml --seed 0 --ways 5 --shots 1 '
            '--queries 15 --episodes 600 --cfg-options '
            'test_dataloader.dataset.dataset.split=test') in tests
