"""Model-zoo entries written from a study's results into a metafile
(configs/<method>/metafile.yml): an entry with the same ``Name`` is replaced
where it stands, a new one is appended to the file's ``Models`` list, and
every other line of the file stays as written. tools/misc/gen_model_zoo.py
then renders docs/model_zoo.md and model-index.yml from the metafiles.

Used by benchmarks/collect_cub_study.py and collect_cross_domain.py
(``--metafiles``).
"""
import os.path as osp
import re
from typing import Dict, Iterable, List, Optional, Tuple

import yaml

ENTRY_START = '  - Name: '


class _Dumper(yaml.SafeDumper):
    """The metafiles' style: lists indented under their key, multi-line
    strings (commands) as literal blocks."""

    def increase_indent(self, flow=False, indentless=False):
        return super().increase_indent(flow, False)


def _str(dumper, data):
    return dumper.represent_scalar('tag:yaml.org,2002:str', data,
                                   style='|' if '\n' in data else None)


_Dumper.add_representer(str, _str)


def entry_text(entry: dict) -> str:
    """``entry`` as the lines of a metafile's ``Models`` list."""
    text = yaml.dump([entry], Dumper=_Dumper, sort_keys=False,
                     width=1 << 20, allow_unicode=True)
    return ''.join('  ' + line for line in text.splitlines(True))


def result(dataset: str, row: dict) -> dict:
    """A metafile result from a ``meta_test_*.json`` row."""
    return {
        'Task': 'Few-Shot Image Classification',
        'Dataset': dataset,
        'Metrics': {
            'Accuracy': round(row['accuracy_mean'], 2),
            'CI95': round(row['accuracy_ci95'], 2),
            'Ways': row['num_ways'],
            'Shots': row['num_shots'],
            'Queries': row['num_queries'],
            'Episodes': row['num_episodes'],
            'Seed': row['seed'],
            'Split': row['split'],
        }
    }


def train_times(out_dir: str) -> dict:
    """{run: (iterations trained, budget text, wall seconds)} from the
    train_times.txt a study script writes (benchmarks/cub_study.sh,
    mini_imagenet_table1.sh)."""
    times = {}
    path = osp.join(out_dir, 'train_times.txt')
    if not osp.isfile(path):
        return times
    with open(path) as f:
        for line in f:
            match = re.match(
                r'(\S+): (\d+) iterations fit in ([\d.]+ \w+ min), '
                r'stopped after (\d+|\(not stopped by the budget\)) '
                r'iterations, wall time (\d+) s', line)
            if match:
                run, fit, budget, stopped, wall = match.groups()
                iters = int(stopped) if stopped.isdigit() else int(fit)
                times[run] = (iters, budget, int(wall))
    return times


def run_minutes(times: dict,
                run: str,
                warm_from: Optional[str] = None) -> Tuple[float, str]:
    """(minutes, clock) of a study run in ``train_times`` form: its own
    budget plus that of the run it was warm-started from."""
    minutes, clock = times[run][1].split()[:2]
    if warm_from:
        minutes = float(minutes) + float(times[warm_from][1].split()[0])
    return float(minutes), clock


def entry_name(config: str,
               times: dict,
               run: str,
               warm_from: Optional[str] = None) -> str:
    """A trained run's model-zoo name, ``<config>_<minutes><clock>-min``
    (``_warm-start`` added for a warm start; its Baseline's minutes
    counted)."""
    minutes, clock = run_minutes(times, run, warm_from)
    return (f'{osp.basename(config).rsplit(".py", 1)[0]}_{minutes:g}{clock}'
            '-min' + ('_warm-start' if warm_from else ''))


def _blocks(lines: List[str], path: str) -> Dict[str, range]:
    """{entry name: its line range (trailing blank lines included)}."""
    models = next((i for i, line in enumerate(lines)
                   if line.rstrip() == 'Models:'), len(lines))
    starts = [i for i, line in enumerate(lines)
              if i > models and line.startswith(ENTRY_START)]
    if not starts:
        raise ValueError(f'{path}: no "{ENTRY_START.strip()}" entry under '
                         'Models to write beside')
    for i in range(starts[0], len(lines)):
        if re.match(r'\S', lines[i]):
            raise ValueError(f'{path}:{i + 1}: a top-level key after the '
                             'Models list; entries are appended at the end')
    ends = starts[1:] + [len(lines)]
    return {lines[s][len(ENTRY_START):].strip(): range(s, e)
            for s, e in zip(starts, ends)}


def write_entries(path: str, entries: Iterable[dict]) -> List[str]:
    """Replace or append ``entries`` in the metafile ``path``; returns the
    names written."""
    with open(path) as f:
        lines = f.read().splitlines(True)
    if lines and not lines[-1].endswith('\n'):
        lines[-1] += '\n'
    written = []
    for entry in entries:
        name = entry['Name']
        block = entry_text(entry).splitlines(True)
        where = _blocks(lines, path).get(name)
        if where is None:
            lines += ['\n'] + block
        else:
            tail = ['\n'] if where.stop < len(lines) else []
            lines[where.start:where.stop] = block + tail
        written.append(name)
    with open(path, 'w') as f:
        f.write(''.join(lines))
    return written
