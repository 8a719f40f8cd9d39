"""The classifier keys that became adapter settings, and their
replacement: an error naming it for a config that still uses one, and the
conversion of a saved task's model config (a file the user cannot edit)."""
from typing import Dict, Optional

# old key -> Finetune key, per classifier family
GRADIENT_KEYS = dict(
    num_inner_steps='num_steps',
    test_num_inner_steps='test_cfg.num_steps',
    inner_lr='lr',
    adapt='adapt',
    learn_inner_lr='learn_lr',
    zero_head="head_init='zero'",
    test_batch_size='batch_size',
    test_line_search='line_search')
SCALE_SHIFT_KEYS = dict(
    num_inner_steps='num_steps',
    test_num_inner_steps='test_cfg.num_steps',
    inner_lr='lr',
    base_learner_init='head_init')
TRANSFER_KEYS = dict(finetune_cfg="adapter=dict(type='Finetune', "
                     "adapt='head.', head=..., head_init=..., num_steps=..., "
                     'lr=...)')
LEGACY_KEYS = dict(
    MAML=GRADIENT_KEYS,
    Reptile=GRADIENT_KEYS,
    MTLScaleShift=SCALE_SHIFT_KEYS,
    TransferClassifier=TRANSFER_KEYS)
# the defaults of the old keys, where the adapter's differ
OLD_DEFAULTS = dict(
    MAML=dict(num_inner_steps=1, inner_lr=0.5),
    Reptile=dict(num_inner_steps=1, inner_lr=0.5),
    MTLScaleShift=dict(
        num_inner_steps=20, test_num_inner_steps=100, inner_lr=0.01),
    TransferClassifier=dict(
        finetune_cfg=dict(
            head=dict(type='CosineHead', scale=10.0),
            num_steps=100,
            lr=0.5,
            init='prototypes')))


def legacy_adapter(name: str, old: dict,
                   adapter: Optional[dict] = None) -> dict:
    """The adapter config that does what the old keys ``old`` of classifier
    ``name`` did (on top of ``adapter``, the config's own, if any)."""
    old = dict(OLD_DEFAULTS.get(name, {}), **old)
    cfg = dict(adapter or {}, type='Finetune')
    if name == 'TransferClassifier':
        finetune = dict(OLD_DEFAULTS[name]['finetune_cfg'],
                        **old['finetune_cfg'])
        cfg.update(adapt='head.', head=finetune['head'],
                   head_init=finetune.get('init', 'prototypes'),
                   num_steps=finetune['num_steps'], lr=finetune['lr'])
        return cfg
    if name == 'MTLScaleShift':
        cfg['adapt'] = 'head.'
        if 'base_learner_init' in old:
            cfg['head_init'] = old['base_learner_init']
    for key, value in (('num_steps', old.get('num_inner_steps')),
                       ('lr', old.get('inner_lr')),
                       ('adapt', old.get('adapt')),
                       ('learn_lr', old.get('learn_inner_lr')),
                       ('batch_size', old.get('test_batch_size')),
                       ('line_search', old.get('test_line_search'))):
        if value is not None:
            cfg[key] = value
    if old.get('zero_head'):
        cfg['head_init'] = 'zero'
    test_steps = old.get('test_num_inner_steps')
    if test_steps is not None and test_steps != cfg.get('num_steps'):
        cfg['test_cfg'] = dict(cfg.get('test_cfg', {}), num_steps=test_steps)
    return cfg


def refuse_legacy_keys(name: str, given: Dict[str, object]) -> None:
    """Raise for classifier keys that are no longer arguments: a moved key
    gets an error naming its adapter replacement, any other the usual
    unexpected-argument error."""
    moved = {k: v for k, v in given.items() if k in LEGACY_KEYS.get(name, {})}
    unknown = sorted(set(given) - set(moved))
    if unknown:
        raise TypeError(f'{name}: unexpected arguments {unknown}')
    if moved:
        renames = ', '.join(f'{k} -> {LEGACY_KEYS[name][k]}'
                            for k in sorted(moved))
        raise ValueError(
            f'{name}: model keys {sorted(moved)} moved into the model\'s '
            f'adapter ({renames}); write adapter={legacy_adapter(name, moved)}'
            ' instead (docs/adapters.md)')


def migrate_model_cfg(cfg: dict) -> dict:
    """A model config with the old keys turned into ``adapter`` (MTL's meta
    branch included): for saved tasks written before adapters existed."""
    cfg = dict(cfg)
    if isinstance(cfg.get('meta_branch'), dict):
        cfg['meta_branch'] = migrate_model_cfg(cfg['meta_branch'])
    keys = LEGACY_KEYS.get(cfg.get('type'), {})
    old = {k: cfg.pop(k) for k in list(cfg) if k in keys}
    if old:
        cfg['adapter'] = legacy_adapter(cfg['type'], old, cfg.get('adapter'))
    return cfg
