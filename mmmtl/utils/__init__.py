from .allocator import tune_allocator
from .atomic_write import atomic_write
from .checkpoint import (load_checkpoint_file, load_weights,
                         register_checkpoint_loader)
from .distributed import (cpu_model_wrapper_cfg, finish_distributed,
                          init_cpu_distributed)
from .setup_env import register_all_modules
from .tool_setup import (add_tensorboard, add_threads_option, setup_cfg,
                         setup_threads)

__all__ = [
    'add_tensorboard', 'add_threads_option', 'atomic_write',
    'cpu_model_wrapper_cfg',
    'finish_distributed', 'init_cpu_distributed', 'load_checkpoint_file',
    'load_weights', 'register_all_modules', 'register_checkpoint_loader',
    'setup_cfg', 'setup_threads', 'tune_allocator'
]
