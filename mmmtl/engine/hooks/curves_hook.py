"""A PNG of a run's training curves, drawn from mmengine's scalar log."""
import glob
import json
import os.path as osp
from typing import Dict, List, Optional

from mmengine.dist import master_only
from mmengine.hooks import Hook

from mmmtl.registry import HOOKS
from mmmtl.utils.atomic_write import atomic_write


def plain_names(record: dict) -> dict:
    """A scalar-log record with its ``train/`` / ``val/`` prefixes (the
    runtime's ``log_processor.log_with_hierarchy``) taken off; older logs
    have none."""
    return {
        key.split('/', 1)[1] if key.startswith(('train/', 'val/')) else key:
        value
        for key, value in record.items()
    }


def read_scalar_logs(work_dir: str) -> List[dict]:
    """The records of every ``<timestamp>/vis_data/scalars.json`` in
    ``work_dir`` (mmengine's ``LocalVisBackend`` log, names without their
    ``train/`` / ``val/`` prefix), oldest run first, as one history: a later
    run (a resumed or a restarted one) replaces every record of the earlier
    ones from its first training step on."""
    history: List[dict] = []
    for path in sorted(
            glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))):
        with open(path) as f:
            records = [
                plain_names(json.loads(line)) for line in f if line.strip()
            ]
        train_steps = [r['step'] for r in records if 'loss' in r]
        if train_steps:
            first = min(train_steps)
            history = [r for r in history if r['step'] < first]
        history.extend(records)
    return history


def loss_keys(records: List[dict]) -> List[str]:
    """``loss`` first, then each branch's term (``*_objective``, as MTL
    logs them, or ``*loss*``)."""
    keys = {k for r in records for k in r}
    terms = sorted(k for k in keys if k != 'loss' and (
        k.endswith('_objective') or 'loss' in k))
    return (['loss'] if 'loss' in keys else []) + terms


def accuracy_keys(records: List[dict]) -> List[str]:
    """Training accuracies (``accuracy``, ``meta_accuracy``, ...), not the
    validation metric's ``accuracy_*`` fields."""
    keys = {k for r in records if 'loss' in r for k in r}
    return sorted(k for k in keys if k == 'accuracy'
                  or k.endswith('_accuracy'))


# what a training accuracy is measured on, in the legend
ACCURACY_LABELS = {
    'transfer_accuracy': 'transfer_accuracy (all training classes)',
    'meta_accuracy': 'meta_accuracy (N-way episode queries)',
}


def plot_curves(records: List[dict], path: str, title: str = '') -> Dict:
    """Draw the training loss (total and branch terms), the training
    accuracies and the validation accuracy with its 95% CI band against the
    iteration; save to ``path``. Returns what was drawn:
    ``{panel title: [series names]}``."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    train = [r for r in records if 'loss' in r]
    val = [r for r in records if 'accuracy_mean' in r]
    panels = []
    if train:
        panels.append(('training loss', loss_keys(train)))
        accuracies = accuracy_keys(train)
        if accuracies:
            panels.append(('training accuracy (%)', accuracies))
    if val:
        panels.append(('validation accuracy (%), 95% CI', ['accuracy_mean']))
    if not panels:
        raise ValueError(f'no training or validation scalars to plot for '
                         f'{path}')
    fig, axes = plt.subplots(
        1, len(panels), figsize=(4.5 * len(panels), 3.5), squeeze=False)
    for ax, (name, keys) in zip(axes[0], panels):
        if name.startswith('validation'):
            steps = [r['step'] for r in val]
            mean = [r['accuracy_mean'] for r in val]
            ci = [r.get('accuracy_ci95', 0.0) for r in val]
            ax.plot(steps, mean, marker='o', label='accuracy_mean')
            ax.fill_between(steps, [m - c for m, c in zip(mean, ci)],
                            [m + c for m, c in zip(mean, ci)],
                            alpha=0.25, label='95% CI')
        else:
            for key in keys:
                points = [(r['step'], r[key]) for r in train if key in r]
                ax.plot(*zip(*points), label=ACCURACY_LABELS.get(key, key))
        ax.set_xlabel('iteration')
        ax.set_title(name, fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    try:
        atomic_write(path, lambda f: fig.savefig(f, format='png', dpi=100))
    finally:
        plt.close(fig)
    return {name: keys for name, keys in panels}


@HOOKS.register_module()
class TrainingCurvesHook(Hook):
    """At the end of training, write ``<work_dir>/<filename>``: the training
    loss (the total and, for MTL, each branch's objective), the training
    accuracies and the validation accuracy with its 95% CI band, against
    the iteration, read from the scalar log that mmengine's
    ``LocalVisBackend`` writes (resumed runs included). It only reads what
    the ``LoggerHook`` logged, so the points are its ``interval``. The
    curves are an extra: when they cannot be drawn or written (a full
    disk, an unreadable log) a warning is logged and the finished training
    stands; the PNG is written atomically (never a truncated file).

    Args:
        filename: name of the PNG in the work dir; None writes nothing
            (mmengine's default hooks cannot be removed by a None entry
            unless they are its own).
    """

    priority = 'LOW'  # after the last validation's scalars are logged

    def __init__(self,
                 filename: Optional[str] = 'training_curves.png') -> None:
        if filename is not None and not filename.endswith('.png'):
            raise ValueError(f'TrainingCurvesHook: filename must end with '
                             f'.png, got {filename!r}')
        self.filename = filename

    @master_only
    def after_train(self, runner) -> None:
        if self.filename is None:
            return
        path = osp.join(runner.work_dir, self.filename)
        try:
            records = read_scalar_logs(runner.work_dir)
            if not records:
                runner.logger.warning(
                    'TrainingCurvesHook: no scalar log (LocalVisBackend) in '
                    f'{runner.work_dir}; no curves written')
                return
            plot_curves(records, path, runner.experiment_name)
        except Exception as err:  # the training itself has finished
            runner.logger.warning(
                f'TrainingCurvesHook: no training curves written to {path} '
                f'({type(err).__name__}: {err}); the training and its '
                'checkpoints are complete')
            return
        runner.logger.info(f'training curves written to {path}')
