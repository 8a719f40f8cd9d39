"""tools/adapt.py: adapt on a support folder of real Omniglot characters,
print the prediction table, write JSON, save and reload the task."""
import json
import os
import os.path as osp

import pytest

from test_apis import omniglot_model  # noqa: F401  (session fixture)
from test_apis import write_queries, write_support

from mmmtl.apis import adapt as adapt_tool


@pytest.fixture
def folders(omniglot_model, tmp_path):  # noqa: F811
    support = write_support(omniglot_model['drawings'], tmp_path / 'support')
    queries, labels = write_queries(omniglot_model['drawings'],
                                    str(tmp_path / 'queries'))
    return support, queries, labels


def test_cli_prints_table_writes_json_and_reloads(
        omniglot_model, folders, tmp_path, capsys):  # noqa: F811
    support, queries, labels = folders
    out_json = str(tmp_path / 'out.json')
    saved = str(tmp_path / 'adapted.pth')
    predictions = adapt_tool.main([
        omniglot_model['config'], omniglot_model['checkpoint'], '--support',
        support, '--query', queries[0],
        osp.dirname(queries[0]), '--topk', '2', '--json', out_json, '--save',
        saved
    ])
    printed = capsys.readouterr().out
    assert '| query | top-1 | top-2 |' in printed
    # the file named first, then the folder's images in sorted order
    assert [p['image'] for p in predictions] == [queries[0], *sorted(queries)]
    for p in predictions:
        row = f"| {p['image']} | {p['classes'][0]} ({p['probs'][0]:.3f}) |"
        assert row in printed
    result = json.load(open(out_json))
    assert result['classes'] == sorted(set(labels))
    assert result['support'] == support
    assert result['predictions'] == predictions
    assert all(
        set(p) == {'image', 'classes', 'probs'} and len(p['classes']) == 2
        for p in result['predictions'])
    assert osp.isfile(saved)

    again = adapt_tool.main(
        ['--load', saved, '--query', *queries, '--topk', '2'])
    by_image = {p['image']: p for p in predictions}
    assert again == [by_image[q] for q in queries]


def test_cli_argument_errors(omniglot_model, folders, tmp_path):  # noqa: F811
    support, queries, _ = folders
    with pytest.raises(SystemExit):  # neither a model nor --load
        adapt_tool.main(['--query', queries[0]])
    with pytest.raises(SystemExit):  # nothing to do
        adapt_tool.main([
            omniglot_model['config'], omniglot_model['checkpoint'],
            '--support', support
        ])
    with pytest.raises(FileNotFoundError, match='nope.png'):
        adapt_tool.main([
            omniglot_model['config'], omniglot_model['checkpoint'],
            '--support', support, '--query',
            str(tmp_path / 'nope.png')
        ])


def test_cfg_options_and_threads_reach_the_model(
        omniglot_model, folders, tmp_path):  # noqa: F811
    """--cfg-options changes the config before the model is built: the
    predictions equal those of the API on the config changed by hand, and
    differ from the unchanged config's; --threads sets torch's threads."""
    import torch
    from mmengine.config import Config

    from mmmtl.apis import CustomTask
    support, queries, _ = folders
    option = 'model.data_preprocessor.std=[1.0]'  # inputs 255x larger
    out_json = str(tmp_path / 'out.json')
    changed = adapt_tool.main([
        omniglot_model['config'], omniglot_model['checkpoint'], '--support',
        support, '--query', *queries, '--cfg-options', option, '--threads',
        '1', '--json', out_json, '--show-dir', str(tmp_path / 'shown')
    ])
    assert torch.get_num_threads() == 1
    # --show-dir: one PNG per query, in query order
    assert sorted(os.listdir(tmp_path / 'shown')) == [
        f'{i:03d}_{osp.splitext(osp.basename(q))[0]}.png'
        for i, q in enumerate(queries)]
    cfg = Config.fromfile(omniglot_model['config'])
    cfg.model.data_preprocessor.std = [1.0]
    task = CustomTask.from_config(cfg, omniglot_model['checkpoint'])
    assert changed == task.adapt(support).predict(queries, topk=3)
    plain = adapt_tool.main([
        omniglot_model['config'], omniglot_model['checkpoint'], '--support',
        support, '--query', *queries
    ])
    assert [p['probs'] for p in plain] != [p['probs'] for p in changed]
    assert json.load(open(out_json))['cfg_options'] == {
        'model.data_preprocessor.std': [1.0]}
    with pytest.raises(SystemExit):  # --load keeps its own config
        adapt_tool.main(['--load', str(tmp_path / 'x.pth'), '--query',
                         queries[0], '--cfg-options', option])
