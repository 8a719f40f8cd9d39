"""Paired comparison of two meta-tests on the same episodes: the per-episode
accuracy differences, their mean and 95% CI."""
import json
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from mmmtl.evaluation.metrics.few_shot_accuracy import accuracy_summary

# what makes two cells' episodes the same ones (besides ways and shots, by
# which cells are matched)
SAME_EPISODE_FIELDS = ('seed', 'num_queries', 'num_episodes', 'split')


def paired_difference(accuracies: Sequence[float],
                      other: Sequence[float]) -> Dict[str, float]:
    """Mean of the per-episode differences ``accuracies - other`` and its
    95% CI half-width, 1.96 * population std / sqrt(E), the convention of
    ``accuracy_ci95``."""
    if len(accuracies) != len(other):
        raise ValueError(f'paired comparison needs the same episodes: '
                         f'{len(accuracies)} accuracies vs {len(other)}')
    summary = accuracy_summary(
        np.asarray(accuracies, dtype=np.float64) -
        np.asarray(other, dtype=np.float64))
    return dict(
        paired_diff_mean=summary['accuracy_mean'],
        paired_diff_ci95=summary['accuracy_ci95'])


def load_paired_cells(path: str) -> Dict[Tuple[int, int], dict]:
    """The result rows of a meta-test JSON by (ways, shots); ValueError
    naming ``path`` when it is not JSON or not a meta-test's result file."""
    try:
        with open(path, encoding='utf-8') as f:
            data = json.load(f)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f'paired_with={path} is not a JSON file: {err}') \
            from None
    try:
        return {(int(r['num_ways']), int(r['num_shots'])): r
                for r in data['results']}
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(
            f'paired_with={path} is not the meta_test_*.json of a '
            'tools/test.py run (expected "results": a list of rows with '
            f'num_ways and num_shots): {type(err).__name__}: {err}') from None


def check_same_episodes(cell: dict, other: dict, path: str) -> None:
    """Raise ValueError naming the first field in which ``other`` (a row of
    ``path``) was not meta-tested on ``cell``'s episodes."""
    where = f"{cell['num_ways']}-way {cell['num_shots']}-shot"
    for field in SAME_EPISODE_FIELDS:
        if cell.get(field) != other.get(field):
            raise ValueError(
                f'paired_with={path}: the {where} cell differs in '
                f'{field} ({other.get(field)!r} there, {cell.get(field)!r} '
                'here), so its episodes are not these; pair meta-tests with '
                'the same seed, queries, episodes and split')
    if len(other.get('episode_accuracies') or []) != other['num_episodes']:
        raise ValueError(
            f'paired_with={path}: the {where} cell has no per-episode '
            'accuracies (episode_accuracies; written by an older '
            'tools/test.py?): meta-test that checkpoint again')


def pairable_cells(cells: List[dict], path: str) -> Dict[Tuple[int, int],
                                                          dict]:
    """The rows of ``path`` for the planned ``cells`` it shares (each
    checked by :func:`check_same_episodes`); ValueError when none."""
    others = load_paired_cells(path)
    shared = {}
    for cell in cells:
        key = (cell['num_ways'], cell['num_shots'])
        if key in others:
            check_same_episodes(cell, others[key], path)
            shared[key] = others[key]
    if not shared:
        raise ValueError(
            f'paired_with={path}: no (ways, shots) cell in common (there: '
            f'{sorted(others)}, here: '
            f"{[(c['num_ways'], c['num_shots']) for c in cells]})")
    return shared


def paired_rows(row: dict,
                other: dict) -> Optional[Tuple[float, float, int]]:
    """(mean, 95% CI, episodes) of the per-episode differences ``row -
    other`` of two result rows (``meta_test_*.json``) over the episodes both
    were meta-tested on, or None where they share none or lack per-episode
    accuracies.

    Episodes are drawn by (seed, index) alone (:func:`mmmtl.datasets.
    episodes.sample_episode`), so two meta-tests of a cell with the same
    seed, queries and split share their first ``min(E1, E2)`` episodes: a
    300-episode run pairs with the first 300 of a 600-episode one.
    """
    fields = ('num_ways', 'num_shots') + tuple(
        f for f in SAME_EPISODE_FIELDS if f != 'num_episodes')
    if any(row.get(f) != other.get(f) for f in fields):
        return None
    a, b = row.get('episode_accuracies'), other.get('episode_accuracies')
    if not a or not b:
        return None
    shared = min(len(a), len(b))
    difference = paired_difference(a[:shared], b[:shared])
    return (difference['paired_diff_mean'], difference['paired_diff_ci95'],
            shared)
