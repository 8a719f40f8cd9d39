"""The files of a meta-test (mmmtl/utils/meta_test_results.py): what was
tested, every cell, the chance level, and an interrupted run's missing
cells."""
import csv
import json

import matplotlib.image

from mmmtl.utils.meta_test_results import plot_results, write_results

META = dict(config='configs/x/cfg.py', checkpoint='work/best_iter_4.pth')


def row(ways, shots, accuracy):
    return dict(num_ways=ways, num_shots=shots, num_queries=10,
                num_episodes=4, seed=3, split='val', accuracy_mean=accuracy,
                accuracy_std=2.0, accuracy_ci95=1.96,
                episode_accuracies=[accuracy] * 4)


def test_interrupted_run_files_state_the_protocol_and_missing_cells(
        tmp_path):
    base = str(tmp_path / 'meta_test_x')
    planned = [(5, 1), (5, 5), (20, 1)]
    write_results(base, [row(5, 1, 61.5)], META, planned)
    saved = json.load(open(base + '.json'))
    assert saved['checkpoint'] == META['checkpoint']
    assert saved['complete'] is False
    assert saved['missing_cells'] == [[5, 5], [20, 1]]
    assert saved['planned_cells'] == [[5, 1], [5, 5], [20, 1]]
    with open(base + '.csv') as f:
        (line, ) = list(csv.DictReader(f))
    assert (line['num_queries'], line['num_episodes'], line['seed'],
            line['split'], line['checkpoint'], line['run_complete'],
            line['missing_cells']) == (
                '10', '4', '3', 'val', META['checkpoint'], 'no',
                '5-way 5-shot, 20-way 1-shot')
    md = open(base + '.md').read()
    assert md.startswith(
        'Meta-test of `work/best_iter_4.pth` with `configs/x/cfg.py`: val '
        'split, 4 episodes x 10 queries per class, seed 3.')
    assert ('**Incomplete run**: 2 of 3 planned cells have no result: '
            '5-way 5-shot, 20-way 1-shot.') in md
    assert '| 5 | 1 | 10 | 4 | 61.50 | +- 1.96 | 2.00 |' in md
    assert '| 20 | 1 | 10 | - | not run | - | - |' in md
    assert matplotlib.image.imread(base + '.png').shape[:2] == (480, 660)

    # the whole run: no missing cells anywhere
    rows = [row(5, 1, 61.5), row(5, 5, 80.0), row(20, 1, 40.0)]
    write_results(base, rows, META, planned)
    assert json.load(open(base + '.json'))['complete'] is True
    assert 'Incomplete' not in open(base + '.md').read()
    with open(base + '.csv') as f:
        assert [r['run_complete'] for r in csv.DictReader(f)] == ['yes'] * 3


def test_plot_has_a_chance_line_per_ways_and_names_the_protocol(tmp_path):
    rows = [row(5, 5, 80.0), row(5, 1, 61.5), row(20, 1, 40.0)]
    drawn = plot_results(rows, str(tmp_path / 'p.png'), 'the title')
    assert drawn['5-way'] == [(1, 61.5), (5, 80.0)]
    assert drawn['chance, 5-way'] == 20.0  # 100 / 5
    assert drawn['chance, 20-way'] == 5.0
    assert drawn['title'] == 'the title'
    base = str(tmp_path / 'm')
    write_results(base, rows[:1], META, [(5, 5), (5, 10)])
    # the title write_results gives the PNG
    from mmmtl.utils.meta_test_results import plot_title
    assert plot_title(rows[:1], META, [(5, 5), (5, 10)]) == (
        'cfg.py, best_iter_4.pth\nval split, 4 episodes x 10 queries per '
        'class, seed 3\nincomplete: 1 of 2 cells missing (5-way 10-shot)')
