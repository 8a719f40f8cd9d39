"""The code of docs/customize_models.md and docs/adapters.md runs as the docs
show it: the ProtoStep classifier and the NearestNeighbours adapter, taken
from the doc's code blocks (their docstring examples, the doc's own tests of
them, ProtoStep's base config trained for two steps and meta-tested), the
documented ``--adapter own --adapter-cfg _delete_=True ...`` commands, and
adapters.md's ``set_adapter`` example."""
import contextlib
import doctest
import io
import os.path as osp
import re
import shlex
import sys
import types

import pytest
import torch
from mmengine.config import Config

from conftest import REPO
from mmmtl.apis.test import build_parser
from mmmtl.models.adapters.presets import adapter_cfg
from mmmtl.registry import MODELS

CUSTOMIZE = osp.join(REPO, 'docs', 'customize_models.md')
ADAPTERS = osp.join(REPO, 'docs', 'adapters.md')


def read(path):
    with open(path) as f:
        return f.read()


def block(path, marker, lang='python'):
    """The one top-level fenced ``lang`` block of a doc holding ``marker``."""
    found = [
        code for code in re.findall(rf'^```{lang}\n(.*?)^```', read(path),
                                    re.S | re.M) if marker in code
    ]
    assert len(found) == 1, f'{path}: {len(found)} {lang} blocks with ' \
        f'{marker!r}'
    return found[0]


# the doc's modules: (module name, marker of its code block, doctests)
MODULES = [('mmmtl.models.classifiers.proto_step', 'class ProtoStep(', 7),
           ('mmmtl.models.adapters.nearest_neighbours',
            'class NearestNeighbours(', 8)]
# the doc's test files: marker of the block -> its test functions
TEST_BLOCKS = {
    marker: re.findall(r'^def (test_\w+)', block(CUSTOMIZE, marker), re.M)
    for marker in ('def test_without_steps_it_scores_as_protonet',
                   'def test_votes_of_the_k_nearest_by_hand')
}


@pytest.fixture(scope='module')
def doc_modules():
    """The doc's classes as the modules the doc puts them in (registered in
    MODELS); removed again afterwards."""
    modules = {}
    for name, marker, _ in MODULES:
        assert name not in sys.modules, f'{name} exists: the doc example ' \
            'would shadow it'
        module = types.ModuleType(name)
        module.__package__ = name.rsplit('.', 1)[0]
        sys.modules[name] = module
        modules[name] = module
    try:
        for name, marker, _ in MODULES:
            exec(compile(block(CUSTOMIZE, marker), name, 'exec'),
                 modules[name].__dict__)
        yield modules
    finally:
        for name in modules:
            sys.modules.pop(name, None)
        for cls in ('ProtoStep', 'NearestNeighbours'):
            MODELS._module_dict.pop(cls, None)


@pytest.mark.parametrize('name, count',
                         [(name, count) for name, _, count in MODULES])
def test_docstring_examples_run_and_the_doc_counts_them(
        doc_modules, name, count):
    result = doctest.testmod(doc_modules[name], optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    assert result.attempted == count
    assert f"'{name}': {count}," in read(CUSTOMIZE)  # the DOCTESTED line


@pytest.mark.parametrize('marker, test',
                         [(m, t) for m, tests in TEST_BLOCKS.items()
                          for t in tests])
def test_the_docs_tests_pass(doc_modules, marker, test):
    namespace = {}
    exec(compile(block(CUSTOMIZE, marker), 'doc test', 'exec'), namespace)
    namespace[test]()


def test_the_docs_test_blocks_have_their_tests():
    assert all(len(tests) == 3 for tests in TEST_BLOCKS.values())


def test_proto_step_config_trains_and_meta_tests(doc_modules, tmp_path):
    """The doc's base config (over ProtoNet's) builds ProtoStep with its
    adapter; two SGD steps on random 5-way episodes change the backbone;
    the trained model meta-tests 5- and 20-way episodes."""
    base = osp.join(REPO, 'configs', '_base_', 'models', 'protonet_conv4.py')
    text = block(CUSTOMIZE, "_base_ = ['./protonet_conv4.py']").replace(
        './protonet_conv4.py', base)
    path = tmp_path / 'proto-step_conv4.py'
    path.write_text(text)
    cfg = Config.fromfile(str(path)).model
    cfg.backbone.channels = (4, 4)  # tiny
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    assert type(model).__name__ == 'ProtoStep'
    assert model.adapter.describe() == (
        "Finetune(1 steps, lr 0.1, adapt head., head LinearHead from "
        'prototypes)')
    start = {n: p.detach().clone() for n, p in model.named_parameters()}
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)

    def episodes(ways, shots=1, queries=2, tasks=2):
        labels = torch.cat([
            torch.arange(ways).repeat_interleave(shots),
            torch.arange(ways).repeat_interleave(queries)
        ]).repeat(tasks, 1)
        # already normalised images (the data preprocessor's output)
        return torch.randn(tasks, labels.shape[1], 1, 28, 28), dict(
            gt_label=labels, episode_label=labels, num_ways=ways,
            num_shots=shots)

    model.train()
    for _ in range(2):
        losses = model(*episodes(5), mode='loss')
        assert torch.isfinite(losses['loss'])
        optimizer.zero_grad()
        losses['loss'].backward()
        optimizer.step()
    assert all(not torch.equal(p, start[n])
               for n, p in model.named_parameters() if 'weight' in n)
    model.eval()
    for ways in (5, 20):
        predictions = model(*episodes(ways, tasks=1), mode='predict')
        assert predictions[0]['pred_score'].shape == (2 * ways, ways)


@pytest.mark.parametrize('doc, adapter', [
    (CUSTOMIZE, dict(type='NearestNeighbours', k=5)),
    (ADAPTERS, dict(type='Centroid', metric='euclidean')),
])
def test_documented_delete_option_replaces_the_adapter(
        doc_modules, doc, adapter):
    """``--adapter own --adapter-cfg _delete_=True type=...`` gives exactly
    the named adapter, which the config's model takes."""
    (code, ) = [
        line for line in re.sub(r'\\\n\s*', '', read(doc)).splitlines()
        if '--adapter-cfg _delete_=True' in line
    ]
    args = build_parser().parse_args(shlex.split(code)[2:])
    config = args.config if args.config != 'CONFIG' else osp.join(
        'configs', 'protonet', 'protonet_conv4_1xb1_cub_5way-1shot.py')
    model_cfg = Config.fromfile(osp.join(REPO, config)).model.to_dict()
    assert adapter_cfg(args.adapter, model_cfg, args.adapter_cfg) == adapter
    model = MODELS.build(model_cfg)
    model.set_adapter(adapter)
    assert type(model.adapter).__name__ == adapter['type']


def test_adapters_md_example_prints_what_it_says():
    code = block(ADAPTERS, 'model.set_adapter(')
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, 'adapters.md', 'exec'), {})
    printed = out.getvalue().splitlines()
    said = re.findall(r'print\(.*\)  # (.*)', code)
    assert len(printed) == len(said) == 2
    for line, comment in zip(printed, said):
        assert line.startswith(comment.rstrip('.'))
