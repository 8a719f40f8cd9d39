"""benchmarks/collect_cross_domain.py and collect_cub_study.py on hand-made
result files: the tables, the best per cell, the paired differences over
shared episodes against a hand computation, pairs refused where the
episodes differ, CSV and PNG."""
import csv
import json
import os
import os.path as osp
import sys

import pytest
import yaml

from conftest import load_script

CROSS = load_script('benchmarks/collect_cross_domain.py')
CUB = load_script('benchmarks/collect_cub_study.py')
META = load_script('benchmarks/metafile_entries.py')


def write(folder, rows, stamp='20260101_000000'):
    os.makedirs(folder, exist_ok=True)
    with open(osp.join(folder, f'meta_test_{stamp}.json'), 'w') as f:
        json.dump(dict(results=rows), f)


def row(ways, shots, episodes, seed=0):
    n = len(episodes)
    mean = sum(episodes) / n
    std = (sum((a - mean)**2 for a in episodes) / n)**0.5
    return dict(
        num_ways=ways,
        num_shots=shots,
        num_episodes=n,
        num_queries=15,
        seed=seed,
        split='all',
        accuracy_mean=mean,
        accuracy_std=std,
        accuracy_ci95=1.96 * std / n**0.5,
        episode_accuracies=episodes)


def run(script, out, monkeypatch, capsys):
    """The script's main as ``python SCRIPT OUT`` runs it; its stdout."""
    monkeypatch.setattr(sys, 'argv', [script.__file__, out])
    script.main()
    return capsys.readouterr().out


def test_cross_domain_tables_and_paired_differences(tmp_path, monkeypatch,
                                                    capsys):
    out = str(tmp_path)
    maml_own = [40.0, 60.0, 60.0, 90.0]
    maml_centroid = [50.0, 60.0, 70.0, 80.0]
    transfer_own = [70.0, 70.0, 70.0, 70.0]
    write(
        osp.join(out, 'cub', 'own', 'maml'),
        [row(5, 1, maml_own), row(20, 5, [20.0, 30.0])])
    write(osp.join(out, 'cub', 'centroid', 'maml'), [row(5, 1, maml_centroid)])
    write(osp.join(out, 'cub', 'own', 'transfer'), [row(5, 1, transfer_own)])
    # an older file of the same cell is overridden by the newer one
    write(
        osp.join(out, 'cub', 'linear', 'maml'),
        [row(5, 1, [0.0, 0.0, 0.0, 0.0])],
        stamp='20250101_000000')
    write(
        osp.join(out, 'cub', 'linear', 'maml'),
        [row(5, 1, [40.0, 60.0, 60.0, 90.0], seed=7)])
    write(
        osp.join(out, 'flowers102', 'own', 'protonet'),
        [row(5, 5, [80.0, 90.0])])
    printed = run(CROSS, out, monkeypatch, capsys)
    with open(osp.join(out, 'cross_domain.md')) as f:
        table = f.read()
    assert table.strip() in printed
    # means: maml own 62.5, centroid 65, transfer 70; transfer is best,
    # centroid maml the runner-up: differences 20, 10, 0, -10 -> mean 5,
    # population std sqrt(125) = 11.18, CI 1.96 * 11.18 / 2 = 10.96
    assert ('- 5-way 1-shot: Baseline (own adapter), +5.00 +- 10.96 vs MAML '
            '(cosine centroid)') in table
    # centroid - own for MAML: 10, 0, 10, -10 -> 2.5 +- 1.96 * 8.29 / 2
    assert '| MAML | cosine centroid - own | +2.50 +- 8.13 | - |' in table
    # the linear run used other episodes (seed 7): not paired
    assert '| MAML | linear head - own | - | - |' in table
    assert '| MAML | linear head | 62.50 +- ' in table  # the newer file
    assert '| ProtoNet | own adapter | 85.00 +- 6.93 |' in table
    with open(osp.join(out, 'cross_domain.csv')) as f:
        rows = {
            (r['domain'], r['model'], r['adapter'], r['ways'], r['shots']): r
            for r in csv.DictReader(f)
        }
    assert len(rows) == 6
    centroid = rows[('cub', 'maml', 'centroid', '5', '1')]
    assert (centroid['accuracy_mean'],
            centroid['paired_vs_own']) == ('65.0000', '2.5000')
    assert rows[('cub', 'maml', 'linear', '5', '1')]['paired_vs_own'] == ''
    assert osp.getsize(osp.join(out, 'cross_domain.png')) > 0


def test_cross_domain_without_results_says_where_it_looked(
        tmp_path, monkeypatch, capsys):
    where = f'no meta_test_.*json under {tmp_path}/<domain>/'
    with pytest.raises(SystemExit, match=where):
        run(CROSS, str(tmp_path), monkeypatch, capsys)


def test_cub_study_beside_mmfewshot(tmp_path, monkeypatch, capsys):
    out = str(tmp_path)
    maml = [40.0, 60.0, 60.0, 90.0]
    mtl = [50.0, 60.0, 70.0, 80.0]
    write(osp.join(out, 'test', 'maml'), [row(5, 1, maml)])
    write(
        osp.join(out, 'test', 'maml'), [row(5, 5, mtl)],
        stamp='20260101_000001')
    write(osp.join(out, 'test', 'mtl-maml'), [row(5, 1, mtl)])
    run(CUB, out, monkeypatch, capsys)
    with open(osp.join(out, 'cub_study.md')) as f:
        table = f.read()
    # the 1-shot and the 5-shot cell come from two files of one folder
    assert ('| MAML | 62.50 +- 17.50 | 65.00 +- 10.96 | 60.32 | 77.03 | '
            'MMFewShot, Conv4, full CUB, 84x84 |') in table
    assert ('mtl-maml - maml, 5-way 1-shot, paired over the same episodes: '
            '+2.50 +- 8.13') in table
    with open(osp.join(out, 'cub_study.csv')) as f:
        rows = list(csv.DictReader(f))
    assert [(r['model'], r['shots'], r['published'])
            for r in rows] == [('maml', '1', '60.32'), ('maml', '5', '77.03'),
                               ('mtl-maml', '1', '')]
    assert osp.getsize(osp.join(out, 'cub_study.png')) > 0


METAFILE = """Collections:
  - Name: MAML
    README: configs/maml/README.md

Models:
  - Name: kept
    In Collection: MAML
    Command: |
      python tools/train.py A
      python tools/test.py A

  - Name: maml_conv4_1xb4_cub-32px_5way-1shot_10cpu-min
    In Collection: MAML
    Results: []
"""


def test_cub_study_model_zoo_entries(tmp_path, monkeypatch, capsys):
    """--metafiles: an entry per trained run with its results and training
    record; an entry of the same name replaced in place, the rest of the
    metafile kept as written."""
    out = str(tmp_path / 'study')
    maml = [40.0, 60.0, 60.0, 90.0]
    write(osp.join(out, 'test', 'maml'), [row(5, 1, maml)])
    with open(osp.join(out, 'train_times.txt'), 'w') as f:
        f.write('maml-1shot: 1905 iterations fit in 10 cpu min, stopped '
                'after (not stopped by the budget) iterations, wall time '
                '1325 s with validation\n'
                'maml-5shot: 1800 iterations fit in 10 cpu min, stopped '
                'after 1700 iterations, wall time 1300 s with validation\n')
    metafile = tmp_path / 'metafile.yml'
    metafile.write_text(METAFILE)
    monkeypatch.setattr(CUB, 'ROOT', str(tmp_path))
    entries = CUB.metafile_entries(CUB.collect(out), out)
    path = osp.join(str(tmp_path), 'configs', 'maml', 'metafile.yml')
    # maml-5shot has no 5-shot result: no entry
    assert list(entries) == [path]
    (entry, ) = entries[path]
    assert entry['Name'] == 'maml_conv4_1xb4_cub-32px_5way-1shot_10cpu-min'
    assert entry['Config'] == 'configs/maml/maml_conv4_1xb4_cub-32px_5way-1shot.py'
    assert entry['Metadata']['Iterations'] == 1905
    assert entry['Metadata']['Training Time'].startswith('1325 s wall')
    assert entry['Results'] == [{
        'Task': 'Few-Shot Image Classification', 'Dataset': 'CUB',
        'Metrics': {'Accuracy': 62.5, 'CI95': 17.5, 'Ways': 5, 'Shots': 1,
                    'Queries': 15, 'Episodes': 4, 'Seed': 0, 'Split': 'all'}}]
    META.write_entries(str(metafile), [entry, dict(entry, Name='new')])
    text = metafile.read_text()
    models = yaml.safe_load(text)['Models']
    assert [m['Name'] for m in models] == [
        'kept', 'maml_conv4_1xb4_cub-32px_5way-1shot_10cpu-min', 'new']
    assert models[1] == entry
    assert text.startswith(METAFILE.split('  - Name: maml_conv4')[0])
    # written again: the same file
    META.write_entries(str(metafile), [entry])
    assert metafile.read_text() == text


def test_cross_domain_model_zoo_entries(tmp_path, monkeypatch):
    """--metafiles: the Baseline's own-adapter results replace the default
    model's earlier cross-domain results (its miniImageNet ones and other
    commands kept); another model gets an entry with its training record;
    a model without one in train_times.txt gets none."""
    root = tmp_path / 'repo'
    (root / 'configs' / 'transfer').mkdir(parents=True)
    old_cub = dict(Task='Few-Shot Image Classification', Dataset='CUB',
                   Metrics=dict(Accuracy=1.0))
    mini = dict(old_cub, Dataset='miniImageNet')
    default = dict(Name=CROSS.DEFAULT_MODEL, Weights='w.pth',
                   Results=[mini, old_cub],
                   Command='python tools/misc/export_model.py A\n'
                   'EPISODES=200 bash benchmarks/cross_domain.sh old\n')
    with open(root / 'configs' / 'transfer' / 'metafile.yml', 'w') as f:
        yaml.safe_dump(dict(Collections=[dict(Name='Baseline')],
                            Models=[default]), f, sort_keys=False)
    table1 = tmp_path / 'table1'
    table1.mkdir()
    (table1 / 'train_times.txt').write_text(
        'protonet: 1989 iterations fit in 10 cpu min, stopped after 1968 '
        'iterations, wall time 808 s with validation\n')
    cells = {
        ('cub', 'own', 'transfer', 5, 1): row(5, 1, [50.0, 70.0]),
        ('flowers102', 'own', 'transfer', 5, 5): row(5, 5, [80.0, 90.0]),
        ('cub', 'centroid', 'transfer', 5, 1): row(5, 1, [0.0, 0.0]),
        ('cub', 'own', 'protonet', 5, 1): row(5, 1, [40.0, 60.0]),
        ('cub', 'own', 'maml', 5, 1): row(5, 1, [40.0, 60.0]),
    }
    monkeypatch.setattr(CROSS, 'ROOT', str(root))
    entries = CROSS.metafile_entries(cells, 'out', str(table1))
    transfer = entries[str(root / 'configs' / 'transfer' / 'metafile.yml')]
    (entry, ) = transfer
    assert entry['Name'] == CROSS.DEFAULT_MODEL and entry['Weights'] == 'w.pth'
    assert [(r['Dataset'], r['Metrics'].get('Shots'))
            for r in entry['Results']] == [('miniImageNet', None),
                                           ('CUB', 1), ('Flowers-102', 5)]
    assert entry['Results'][1]['Metrics']['Accuracy'] == 60.0
    assert entry['Command'] == (
        'python tools/misc/export_model.py A\n'
        f'bash benchmarks/cross_domain.sh {table1}\n'
        f'python benchmarks/collect_cross_domain.py out --metafiles {table1}\n')
    (protonet, ) = entries[str(root / 'configs' / 'protonet' /
                               'metafile.yml')]
    assert protonet['Name'] == ('protonet_conv4_1xb1_mini-imagenet-32px_'
                                '5way-5shot_10cpu-min_cross-domain')
    assert protonet['Metadata']['Iterations'] == 1968
    assert [r['Metrics']['Accuracy'] for r in protonet['Results']] == [50.0]
    # maml: no training record, no entry
    assert len(entries) == 2
