"""benchmarks/collect_adapters.py on hand-made results: the embedding x
adapter table, the same-adapter paired differences and the best adapter
against hand computations."""
import csv
import os.path as osp
import subprocess
import sys

from conftest import REPO
from test_collect_table1 import row, write

SCRIPT = osp.join(REPO, 'benchmarks', 'collect_adapters.py')


def test_embedding_adapter_table(tmp_path):
    out = str(tmp_path)
    write(osp.join(out, 'transfer@centroid'), [row(5, 1, [60.0] * 4)])
    write(osp.join(out, 'mtl-maml@centroid'),
          [row(5, 1, [50.0, 60.0, 70.0, 80.0])])
    write(osp.join(out, 'maml@centroid'), [row(5, 1, [40.0, 60.0, 60.0,
                                                      90.0])])
    write(osp.join(out, 'maml'), [row(5, 1, [30.0, 40.0, 50.0, 60.0])])
    write(osp.join(out, 'maml@linear'), [row(5, 1, [40.0, 50.0, 60.0,
                                                    70.0])])
    done = subprocess.run([sys.executable, SCRIPT, out], check=True,
                          capture_output=True, text=True)
    with open(osp.join(out, 'adapters.md')) as f:
        table = f.read()
    assert table in done.stdout
    lines = table.splitlines()
    assert lines[0] == '| ways | shots | adapter | Transfer | MAML | ' \
        'MTL-MAML |'
    # MAML: 62.5 +- 1.96 * sqrt(318.75) / 2; MTL-MAML: 65 +- 1.96 *
    # sqrt(125) / 2
    assert '| 5 | 1 | Centroid | 60.00 +- 0.00 | 62.50 +- 17.50 | ' \
        '65.00 +- 10.96 |' in lines
    # MTL - Transfer under Centroid: -10, 0, 10, 20: mean 5, std
    # sqrt(125), CI 10.96 (includes 0: no star); MTL - MAML: 10, 0, 10,
    # -10: mean 2.5, CI 1.96 * sqrt(68.75) / 2 = 8.13
    assert '| 5 | 1 | Centroid | +5.00 +- 10.96 | +2.50 +- 8.13 |' in lines
    # MAML: Centroid 62.5 beats LinearProbe 55 (+0, +10, 0, +20: mean 7.5,
    # std sqrt(68.75), CI 8.13) and its own adapter (45)
    assert 'Centroid (+7.50 +- 8.13 vs LinearProbe)' in table
    with open(osp.join(out, 'adapters.csv')) as f:
        rows = list(csv.DictReader(f))
    assert {(r['embedding'], r['adapter']) for r in rows} == {
        ('transfer', 'Centroid'), ('mtl-maml', 'Centroid'),
        ('maml', 'Centroid'), ('maml', 'own'), ('maml', 'LinearProbe')}
    assert osp.getsize(osp.join(out, 'adapters.png')) > 10000
