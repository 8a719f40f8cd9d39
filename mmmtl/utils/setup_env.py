import datetime
import warnings

from mmengine import DefaultScope


def register_all_modules(init_default_scope: bool = True) -> None:
    """Import every mmmtl module that registers classes and make ``mmmtl``
    the default registry scope (as OpenMMLab toolboxes do)."""
    import mmmtl.datasets  # noqa: F401
    import mmmtl.engine  # noqa: F401
    import mmmtl.evaluation  # noqa: F401
    import mmmtl.models  # noqa: F401
    import mmmtl.visualization  # noqa: F401

    if not init_default_scope:
        return
    current = DefaultScope.get_current_instance()
    if current is None:
        DefaultScope.get_instance('mmmtl', scope_name='mmmtl')
    elif current.scope_name != 'mmmtl':
        warnings.warn(f'The current default scope "{current.scope_name}" '
                      'is not "mmmtl"; a new scope "mmmtl" is made current.')
        name = f'mmmtl-{datetime.datetime.now()}'
        DefaultScope.get_instance(name, scope_name='mmmtl')
