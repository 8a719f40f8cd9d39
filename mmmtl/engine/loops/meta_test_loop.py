"""Meta-testing a model on several (ways, shots) settings in one run."""
import copy
import os.path as osp
from typing import Dict, List, Optional, Sequence, Union

import torch
from mmengine.dist import get_rank
from mmengine.evaluator import Evaluator
from mmengine.model import is_model_wrapper
from mmengine.runner import BaseLoop
from mmengine.runner.amp import autocast

from mmmtl.evaluation import FewShotAccuracy
from mmmtl.registry import LOOPS
from mmmtl.utils.meta_test_results import METRIC_KEYS, write_results
from mmmtl.utils.paired_comparison import pairable_cells, paired_difference


@LOOPS.register_module()
class MetaTestLoop(BaseLoop):
    """Meta-test on the test dataloader's episodes once per (ways, shots)
    setting of ``settings`` (default: the dataloader's own), writing every
    finished cell's results to ``<work_dir>/meta_test_<timestamp>``
    ``.json / .csv / .md / .png`` (rank 0; rewritten after each cell, so a
    failing later cell loses nothing, and the files of an interrupted run
    name the cells still missing: :func:`write_results`).

    The model adapts to each episode with its own adapter, or with
    ``adapter`` (a config, e.g. ``dict(type='Centroid')``) put in its place
    after the checkpoint is loaded (``model.set_adapter``): any checkpoint's
    embedding with any adapter. The adapter's description is in every row,
    the JSON and the markdown.

    A cell's row: ``num_ways``, ``num_shots``, ``num_queries``,
    ``num_episodes``, ``seed``, ``split``, ``adapter``, the metric's
    ``accuracy_mean`` /
    ``accuracy_std`` / ``accuracy_ci95`` and ``episode_accuracies`` (in
    episode order). With ``paired_with`` (another meta-test's JSON) every
    cell that both have, on the same episodes (checked before testing), adds
    ``paired_diff_mean`` / ``paired_diff_ci95`` (this minus that).

    Hooks see one ``before_test`` / ``after_test`` for the whole run and one
    ``before_test_epoch`` / ``after_test_epoch(metrics)`` per cell, with
    ``runner.test_dataloader`` the cell's. ``run`` returns the rows.

    Args:
        runner: the runner.
        dataloader: the test dataloader config; its ``dataset`` must be an
            ``EpisodicDataset``.
        evaluator: the test evaluator (config).
        settings: ``[(ways, shots), ...]``.
        info: extra fields of the JSON (``tools/test.py``: ``config`` and
            ``checkpoint``, also the markdown's first line).
        paired_with: a meta-test JSON to compare with, cell by cell.
        adapter: the adapter config to meta-test with (default: the
            model's own).
        fp16: autocast the test steps.
    """

    def __init__(self,
                 runner,
                 dataloader: Dict,
                 evaluator: Union[Evaluator, Dict, List],
                 settings: Optional[Sequence[Sequence[int]]] = None,
                 info: Optional[Dict] = None,
                 paired_with: Optional[str] = None,
                 adapter: Optional[Dict] = None,
                 fp16: bool = False) -> None:
        if not isinstance(dataloader, dict) or dataloader['dataset'].get(
                'type') != 'EpisodicDataset':
            raise ValueError('MetaTestLoop: test_dataloader must be a config '
                             'whose dataset is an EpisodicDataset')
        self.dataloader_cfg = copy.deepcopy(dataloader)
        episodes = self.dataloader_cfg['dataset']
        self.settings = [(int(w), int(s)) for w, s in (
            settings or [(episodes['num_ways'], episodes['num_shots'])])]
        if not self.settings or min(min(c) for c in self.settings) < 1:
            raise ValueError(f'MetaTestLoop: settings must be (ways, shots) '
                             f'pairs >= 1, got {settings}')
        self.cells = [self._planned_row(w, s) for w, s in self.settings]
        self.paired_with = paired_with
        self.paired = (
            pairable_cells(self.cells, paired_with) if paired_with else {})
        super().__init__(runner, self._cell_loader_cfg(self.cells[0]))
        self.evaluator = (
            runner.build_evaluator(evaluator)
            if isinstance(evaluator, (dict, list)) else evaluator)
        for metric in self.evaluator.metrics:  # the paired comparisons' input
            if isinstance(metric, FewShotAccuracy):
                metric.keep_episodes = True
        self.info = dict(info or {})
        self.adapter = adapter
        self.fp16 = fp16
        self.out_base = osp.join(runner.work_dir,
                                 f'meta_test_{runner.timestamp}')

    def _planned_row(self, ways: int, shots: int) -> dict:
        episodes = self.dataloader_cfg['dataset']
        return dict(
            num_ways=ways,
            num_shots=shots,
            num_queries=episodes['num_queries'],
            num_episodes=episodes['num_episodes'],
            seed=episodes['seed'],
            split=episodes['dataset'].get('split'))

    def _cell_loader_cfg(self, cell: dict) -> dict:
        loader = copy.deepcopy(self.dataloader_cfg)
        loader['dataset'].update(
            num_ways=cell['num_ways'], num_shots=cell['num_shots'])
        return loader

    def use_adapter(self) -> str:
        """Put ``adapter`` in the (loaded) model's place and return the
        adapter's description."""
        model = self.runner.model
        model = model.module if is_model_wrapper(model) else model
        if self.adapter is not None:
            model.set_adapter(self.adapter)
        return model.adapter.describe()

    def run(self) -> List[dict]:
        runner = self.runner
        described = self.use_adapter()
        for cell in self.cells:
            cell['adapter'] = described
        runner.call_hook('before_test')
        meta = dict(self.info, seed=self.cells[0]['seed'],
                    adapter=described)
        if self.paired_with:
            meta['paired_with'] = self.paired_with
        rows = []
        for index, cell in enumerate(self.cells):
            if index:
                # the same images in every cell: the first cell's dataset
                # (decoded once), episodes drawn anew
                loader = self._cell_loader_cfg(cell)
                loader['dataset']['dataset'] = self.dataloader.dataset.dataset
                self.dataloader = runner.build_dataloader(
                    loader,
                    seed=runner.seed,
                    diff_rank_seed=runner.cfg.get('randomness', {}).get(
                        'diff_rank_seed', False))
            runner.logger.info(
                f"meta-testing {cell['num_ways']}-way {cell['num_shots']}-"
                f"shot on {cell['num_episodes']} episodes (seed "
                f"{cell['seed']})")
            rows.append(self._run_cell(cell))
            if get_rank() == 0:
                table = write_results(self.out_base, rows, meta,
                                      self.settings)
        runner.call_hook('after_test')
        if get_rank() == 0:
            print(f'adapter: {described}')
            print(table)
            print(f'results written to {self.out_base}.json / .csv / .md / '
                  '.png', flush=True)
        return rows

    def _run_cell(self, cell: dict) -> dict:
        runner = self.runner
        dataset = self.dataloader.dataset
        self.evaluator.dataset_meta = getattr(dataset, 'metainfo', None)
        runner.call_hook('before_test_epoch')
        runner.model.eval()
        for idx, data_batch in enumerate(self.dataloader):
            self.run_iter(idx, data_batch)
        metrics = self.evaluator.evaluate(len(dataset))
        # FewShotAccuracy's per-episode scores, in episode order (all ranks)
        accuracies = metrics.pop('accuracy_per_episode')
        runner.call_hook('after_test_epoch', metrics=metrics)
        row = dict(cell, num_episodes=metrics['num_episodes'])
        row.update({k: metrics[k] for k in METRIC_KEYS})
        row['episode_accuracies'] = accuracies
        key = (cell['num_ways'], cell['num_shots'])
        if key in self.paired and get_rank() == 0:
            row.update(
                paired_difference(accuracies,
                                  self.paired[key]['episode_accuracies']))
        return row

    @torch.no_grad()
    def run_iter(self, idx: int, data_batch: dict) -> None:
        """One test batch: the model predicts, the evaluator scores."""
        self.runner.call_hook(
            'before_test_iter', batch_idx=idx, data_batch=data_batch)
        with autocast(enabled=self.fp16):
            outputs = self.runner.model.test_step(data_batch)
        self.evaluator.process(data_samples=outputs, data_batch=data_batch)
        self.runner.call_hook(
            'after_test_iter',
            batch_idx=idx,
            data_batch=data_batch,
            outputs=outputs)
