"""mmengine's Runner with mmmtl's rules for loading checkpoints and for
non-finite weights."""
from collections import OrderedDict
from typing import Callable, Optional, Union

import torch
import torch.distributed as dist
from mmengine.utils.dl_utils import collect_env
from mmengine.model import is_model_wrapper
from mmengine.optim import OptimWrapper, OptimWrapperDict
from mmengine.runner import Runner
from mmengine.runner.checkpoint import CheckpointLoader

from mmmtl.registry import RUNNERS
from mmmtl.utils.checkpoint import load_weights


@RUNNERS.register_module()
class FewShotRunner(Runner):
    """The Runner of ``tools/train.py`` and ``tools/test.py``.

    - Checkpoints load into the model strictly (every key, every shape;
      errors name the checkpoint and the config): ``--resume``,
      ``tools/test.py`` and ``load_from``. A config that starts training
      from part of another model's checkpoint on purpose says so with
      ``load_from_strict = False`` (e.g. Sun et al.'s MTL from a transfer
      checkpoint): missing and unexpected keys are then logged, shapes must
      still match. Files are read weights-only (``mmmtl.compat``).
    - After every optimizer step the parameters are checked: if the step
      made any of them non-finite, training stops at once with an error
      naming the iteration and the parameters, before a checkpoint of that
      model can be written (the loss itself is checked by the model,
      ``BaseFewShotClassifier.parse_losses``).
    - The environment header names the process group's real backend (gloo
      on CPU ranks under torchrun) and counts processes, not GPUs.
    """

    def _log_env(self, env_cfg: dict) -> None:
        """mmengine's environment header, with ``distributed backend`` the
        initialised process group's and ``processes`` the world size
        (mmengine calls it ``GPU number`` whatever the device)."""
        runtime_env = OrderedDict(env_cfg)
        runtime_env.update(self._randomness_cfg)
        runtime_env['seed'] = self._seed
        runtime_env['Distributed launcher'] = self._launcher
        runtime_env['Distributed training'] = self._distributed
        if dist.is_available() and dist.is_initialized():
            runtime_env['distributed backend'] = dist.get_backend()
        runtime_env['processes'] = self._world_size
        runtime_env['CUDA available'] = torch.cuda.is_available()
        dash_line = '-' * 60
        self.logger.info(
            f'\n{dash_line}\nSystem environment:\n    ' +
            '\n    '.join(f'{k}: {v}' for k, v in collect_env().items()) +
            '\n\nRuntime environment:\n    ' +
            '\n    '.join(f'{k}: {v}' for k, v in runtime_env.items()) +
            f'\n{dash_line}\n')
        if self.cfg._cfg_dict:
            self.logger.info(f'Config:\n{self.cfg.pretty_text}')

    def load_checkpoint(self,
                        filename: str,
                        map_location: Union[str, Callable] = 'cpu',
                        strict: Optional[bool] = None,
                        revise_keys: list = [(r'^module\.', '')]):
        """mmengine's ``load_checkpoint`` with
        :func:`mmmtl.utils.checkpoint.load_weights`' checks and errors;
        ``strict=None``: strict when resuming, else the config's
        ``load_from_strict`` (default True)."""
        if strict is None:
            strict = bool(self.cfg.get('resume')) or self.cfg.get(
                'load_from_strict', True)
        checkpoint = CheckpointLoader.load_checkpoint(
            filename, map_location=map_location)
        self.call_hook('after_load_checkpoint', checkpoint=checkpoint)
        model = self.model.module if is_model_wrapper(
            self.model) else self.model
        load_weights(
            model,
            checkpoint,
            filename,
            strict=strict,
            config=self.cfg.filename,
            revise_keys=revise_keys)
        # as Runner.load_checkpoint does (no public setter): load_or_resume
        # then skips loading again
        self._has_loaded = True
        self.logger.info(f'Load checkpoint from {filename}')
        return checkpoint

    def build_optim_wrapper(self, optim_wrapper):
        wrapper = super().build_optim_wrapper(optim_wrapper)
        wrappers = (
            wrapper.values()
            if isinstance(wrapper, OptimWrapperDict) else [wrapper])
        hooked = self.__dict__.setdefault('_finite_checked', set())
        for item in wrappers:
            if isinstance(item, OptimWrapper) and id(
                    item.optimizer) not in hooked:
                item.optimizer.register_step_post_hook(
                    self._check_finite_parameters)
                hooked.add(id(item.optimizer))
        return wrapper

    def _check_finite_parameters(self, optimizer, args, kwargs) -> None:
        params = [
            p for group in optimizer.param_groups for p in group['params']
        ]
        if not params or torch.stack([torch.isfinite(p).all()
                                      for p in params]).all():
            return
        model = self.model.module if is_model_wrapper(
            self.model) else self.model
        names = {id(p): name for name, p in model.named_parameters()}
        bad = [
            names.get(id(p), f'<parameter {i}>')
            for i, p in enumerate(params) if not torch.isfinite(p).all()
        ]
        listed = ', '.join(bad[:5]) + (
            f' and {len(bad) - 5} more' if len(bad) > 5 else '')
        raise FloatingPointError(
            f'iteration {self.iter + 1}: the optimizer step made {len(bad)} '
            f'parameters non-finite ({listed}) although the loss was finite: '
            'the gradient or the learning rate is too large. Training '
            'stopped; no checkpoint of this model was written.')
