from .adapters import *  # noqa: F401,F403
from .backbones import *  # noqa: F401,F403
from .classifiers import *  # noqa: F401,F403
from .data_preprocessors import *  # noqa: F401,F403
from .heads import *  # noqa: F401,F403
from .inner_loop import adapt_tasks, inner_loop, map_tasks, select_params

__all__ = ['adapt_tasks', 'inner_loop', 'map_tasks', 'select_params']
