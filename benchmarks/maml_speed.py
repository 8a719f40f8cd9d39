"""Seconds per full second-order MAML meta-step (forward, backward, Adam
step), mmmtl's task strategies against a plain ``torch.func`` per-task loop
and ``higher``, on the same tasks and initial weights in one process.

    pip install higher==0.2.1 --no-deps      # optional, a benchmark extra
    python benchmarks/maml_speed.py [--regimes omniglot-ref ...]
        [--threads 1 2] [--repeats 3] [--device cuda]

Regimes (second-order MAML, Finn et al.'s Conv4 networks):
    omniglot-ref   Conv4-64 stride 2, 28x28, 5-way 1-shot 15-query, T=32,
                   1 inner step (the reference Omniglot setting)
    omniglot-20w   the same network, 20-way 1-shot 5-query, T=16, 5 steps
    cpu-budget     the same network, 5-way 1-shot 1-query, T=8, 1 step
                   (configs/maml/maml_conv4_1xb8_omniglot_5way-1shot.py)
    mini-ref       Conv4-32 max-pool, 84x84 RGB, 5-way 1-shot 15-query, T=4,
                   5 steps (configs/maml/maml_conv4_1xb4_mini-imagenet_...)
    mini-32        Conv4-32 max-pool, 32x32 RGB, 5-way 1-shot 15-query, T=4,
                   5 steps (the reduced miniImageNet CPU protocol)

Every row starts from the same weights and meta-batch; the script asserts
that all first meta-losses agree (float32 rows to 1e-4; the default, whose
query evaluation runs in bfloat16 where the CPU or GPU computes it natively,
to 1e-2), then prints a markdown table per regime and thread count: median
wall seconds per meta-step over ``--repeats`` steps taken in turns (one step
of each row per round) after one warm-up step each, and the ratio to the
plain loop. The default row is what mmmtl's configs run: mmengine's
``train_step`` with :class:`AutocastOptimWrapper` (precision ``'auto'``);
the float32 rows call the model's ``loss`` (automatic vmap-or-loop choice,
forced vmap, forced loop). MTL-MAML (beta 0.1,
transfer branch over 4112 / 64 classes) is timed beside the default. Below
each table, at the first thread count: how far the bfloat16 meta-gradient
is from float64's, beside the distance of another meta-batch's gradient.
Below each table, the roofline: the floating-point work of
one meta-step (the plain loop's, counted by torch's FlopCounterMode:
convolutions and matrix products, forward, backward and double backward)
against this machine's single-precision matrix-multiply rate at the same
thread count, i.e. the share of the CPU's attainable rate the plain loop
already reaches and the share a 2x faster implementation of the same
arithmetic would need. And a batching line: the same arithmetic with every
task's images at one set of weights (one large convolution per layer, a
different loss), the best case of any strategy that batches the tasks.
"""
import argparse
import copy
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.func import functional_call

import mmmtl  # noqa: F401
from mmmtl.registry import MODELS
from mmmtl.utils import register_all_modules, tune_allocator

REGIMES = {
    'omniglot-ref':
    dict(net='omniglot', ways=5, shots=1, queries=15, tasks=32, steps=1,
         lr=0.4),
    'omniglot-20w':
    dict(net='omniglot', ways=20, shots=1, queries=5, tasks=16, steps=5,
         lr=0.1),
    'cpu-budget':
    dict(net='omniglot', ways=5, shots=1, queries=1, tasks=8, steps=1,
         lr=0.4),
    'mini-ref':
    dict(net='mini', ways=5, shots=1, queries=15, tasks=4, steps=5,
         lr=0.05, size=84),
    'mini-32':
    dict(net='mini', ways=5, shots=1, queries=15, tasks=4, steps=5,
         lr=0.05, size=32),
}
ONE_GRAPH = 'all tasks in one graph (shared weights, not a MAML step)'
# the default's first meta-loss (query in bfloat16 where native) against
# float32's, relative
BF16_LOSS_TOL = 1e-2
NETS = {
    'omniglot':
    dict(backbone=dict(in_channels=1, pool=False, stride=2), features=256,
         size=28, classes=4112, mean=[0.0], std=[255.0]),
    'mini':
    dict(backbone=dict(in_channels=3, channels=(32, 32, 32, 32), pool=True,
                       stride=1), features=None, size=84, classes=64,
         mean=[120.0, 115.0, 103.0], std=[70.0, 68.0, 71.0]),
}


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--regimes', nargs='*', default=list(REGIMES),
                        choices=list(REGIMES))
    parser.add_argument('--threads', type=int, nargs='+', default=[1, 2])
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--rows', nargs='+', help='only these rows')
    parser.add_argument(
        '--device', default='cpu',
        help='device of the meta-step rows, e.g. cuda (every row ends with '
        'loss.item(), which waits for the GPU); the meta-test and call-size '
        'timings stay on the CPU')
    parser.add_argument(
        '--allocator', choices=('tuned', 'default'), default='tuned',
        help="tuned: glibc keeps freed memory in the process, as mmmtl's "
        'tools set it (mmmtl.utils.tune_allocator); default: glibc as it '
        'comes (every row runs under the same setting)')
    parser.add_argument(
        '--meta-test-episodes', type=int, default=600,
        help='episodes of the meta-test timing (0: skip it)')
    parser.add_argument(
        '--call-sizes', action='store_true',
        help='also time the same second-order work fed in calls of 5 to '
        '2400 images')
    return parser.parse_args()


def feature_size(net: dict, size: int) -> int:
    if net['features']:
        return net['features']
    side = size
    for _ in range(4):
        side //= 2
    return 32 * side * side


def model_cfg(regime: dict, vmap) -> dict:
    net = NETS[regime['net']]
    size = regime.get('size', net['size'])
    return dict(
        type='MAML',
        data_preprocessor=dict(
            type='FewShotDataPreprocessor', mean=net['mean'],
            std=net['std']),
        backbone=dict(type='Conv4', track_running_stats=False,
                      **net['backbone']),
        head=dict(type='LinearHead', in_channels=feature_size(net, size)),
        num_ways=regime['ways'],
        adapter=dict(type='Finetune', num_steps=regime['steps'],
                     lr=regime['lr']),
        vmap=vmap)


def mtl_cfg(regime: dict) -> dict:
    maml = model_cfg(regime, None)
    net = NETS[regime['net']]
    return dict(
        type='MTL',
        data_preprocessor=maml.pop('data_preprocessor'),
        backbone=maml.pop('backbone'),
        meta_branch=maml,
        transfer_branch=dict(
            type='TransferClassifier',
            head=dict(type='LinearHead',
                      in_channels=maml['head']['in_channels'],
                      num_classes=net['classes'])),
        beta=0.1)


def meta_batch(regime: dict):
    """uint8 images as a dataloader gives them, their normalised floats, and
    the data samples."""
    net = NETS[regime['net']]
    size = regime.get('size', net['size'])
    ways, shots, queries = regime['ways'], regime['shots'], regime['queries']
    gen = torch.Generator().manual_seed(0)
    channels = net['backbone']['in_channels']
    images = torch.randint(
        0, 256, (regime['tasks'], ways * (shots + queries), channels, size,
                 size), generator=gen, dtype=torch.uint8)
    labels = torch.cat([
        torch.arange(ways).repeat_interleave(shots),
        torch.arange(ways).repeat_interleave(queries)
    ]).repeat(regime['tasks'], 1)
    gt = torch.randint(0, net['classes'], labels.shape, generator=gen)
    samples = dict(episode_label=labels, gt_label=gt, num_ways=ways,
                   num_shots=shots, num_queries=queries)
    mean = torch.tensor(net['mean']).view(-1, 1, 1)
    std = torch.tensor(net['std']).view(-1, 1, 1)
    return images, (images.float() - mean) / std, samples


class PlainConv4(nn.Module):
    """The same Conv4 with native BatchNorm2d and the default memory format
    (NCHW), for the baselines."""

    def __init__(self, reference: nn.Module) -> None:
        super().__init__()
        self.backbone = copy.deepcopy(reference.backbone)
        self.backbone.channels_last = False
        for block in self.backbone.layers:
            norm = block[1]
            native = nn.BatchNorm2d(norm.num_features,
                                    track_running_stats=False)
            native.weight, native.bias = norm.weight, norm.bias
            block[1] = native
        self.head = copy.deepcopy(reference.head)

    def forward(self, x):
        return self.head(self.backbone(x))


def split(inputs, samples):
    n = samples['num_ways'] * samples['num_shots']
    y = samples['episode_label']
    return inputs[:, :n], y[:, :n], inputs[:, n:], y[:, n:]


def plain_loop_loss(net: nn.Module, regime: dict, inputs, samples,
                    query=None):
    """The baseline: torch.func.functional_call + autograd.grad per task.
    ``inputs`` may be given as the (support images, support labels) pair
    and ``query`` as the (query images, query labels) pair."""
    if query is None:
        sx, sy, qx, qy = split(inputs, samples)
    else:
        (sx, sy), (qx, qy) = inputs, query
    params = dict(net.named_parameters())
    total = 0.0
    for t in range(len(sx)):
        fast = params
        for _ in range(regime['steps']):
            loss = F.cross_entropy(functional_call(net, fast, (sx[t], )),
                                   sy[t])
            grads = torch.autograd.grad(
                loss, list(fast.values()), create_graph=True)
            fast = {
                n: p - regime['lr'] * g
                for (n, p), g in zip(fast.items(), grads)
            }
        total = total + F.cross_entropy(
            functional_call(net, fast, (qx[t], )), qy[t])
    return total / len(sx)


def one_graph_loss(net: nn.Module, regime: dict, inputs, samples):
    """The same images, inner steps and arithmetic as one task at one set of
    weights (every task's support and query concatenated), so each layer is
    a single large convolution: a different loss, not a MAML meta-step, but
    the best case of any strategy that batches the tasks."""
    sx, sy, qx, qy = (t.flatten(0, 1).unsqueeze(0)
                      for t in split(inputs, samples))
    return plain_loop_loss(net, regime, (sx, sy), samples, query=(qx, qy))


def higher_loss(net: nn.Module, regime: dict, inputs, samples):
    import higher
    sx, sy, qx, qy = split(inputs, samples)
    inner_opt = torch.optim.SGD(net.parameters(), lr=regime['lr'])
    total = 0.0
    for t in range(len(sx)):
        with higher.innerloop_ctx(
                net, inner_opt, copy_initial_weights=False) as (fnet, diffopt):
            for _ in range(regime['steps']):
                diffopt.step(F.cross_entropy(fnet(sx[t]), sy[t]))
            total = total + F.cross_entropy(fnet(qx[t]), qy[t])
    return total / len(sx)


def time_rows(regime: dict, rows: dict, repeats: int) -> dict:
    """{row: (first loss, median seconds per meta-step)}. After one warm-up
    step each, the rows take turns (``repeats`` rounds of one step per
    row), so that a drift of the machine's speed (other tenants, memory
    reclaim) falls on every row alike rather than on the rows timed last."""
    optimizers, states, firsts = {}, {}, {}
    for name, (module, step) in rows.items():
        optimizers[name] = torch.optim.Adam(module.parameters(), lr=1e-3)
        states[name] = copy.deepcopy(module.state_dict())
        optimizers[name].zero_grad()
        firsts[name] = step(optimizers[name])
    times = {name: [] for name in rows}
    for _ in range(repeats):
        for name, (module, step) in rows.items():
            start = time.perf_counter()
            optimizers[name].zero_grad()
            step(optimizers[name])
            times[name].append(time.perf_counter() - start)
    for name, (module, _) in rows.items():
        module.load_state_dict(states[name])
    return {
        name: (firsts[name], statistics.median(times[name]))
        for name in rows
    }


def row(module: nn.Module, loss_fn) -> tuple:
    """(module, step): a full meta-step of ``loss_fn(module)``."""
    def step(optimizer):
        loss = loss_fn(module)
        loss.backward()
        optimizer.step()
        return loss.item()

    return module, step


DEFAULT = 'mmmtl default (train_step, bf16 autocast where native)'
FP32 = 'mmmtl float32 (auto strategy)'
MTL_DEFAULT = 'mmmtl MTL-MAML default (train_step)'
PLAIN = 'plain torch.func loop (baseline)'


def train_step_row(model: nn.Module, images, samples) -> tuple:
    """(model, step): mmengine's train_step with the optimizer wrapper of
    mmmtl's MAML configs (AutocastOptimWrapper, precision 'auto')."""
    from mmmtl.engine import AutocastOptimWrapper
    wrappers = {}

    def step(optimizer):
        if optimizer not in wrappers:
            wrappers[optimizer] = AutocastOptimWrapper(optimizer=optimizer)
        logs = model.train_step(dict(img=images, **samples),
                                wrappers[optimizer])
        return logs['loss'].item()

    return model, step


def build_rows(regime: dict, selected, device: str = 'cpu') -> dict:
    images, inputs, samples = meta_batch(regime)
    images, inputs = images.to(device), inputs.to(device)
    samples = {
        k: v.to(device) if isinstance(v, torch.Tensor) else v
        for k, v in samples.items()
    }
    torch.manual_seed(0)
    model = MODELS.build(model_cfg(regime, None)).to(device)
    init = copy.deepcopy(model.state_dict())
    rows = {}

    def mmmtl_loss(module):
        return module.loss(inputs, samples)['loss']

    def built(cfg):
        m = MODELS.build(cfg).to(device)
        m.load_state_dict(init, strict=False)
        return m

    rows[DEFAULT] = train_step_row(
        built(model_cfg(regime, None)), images, samples)
    for name, vmap in ((FP32, None), ('mmmtl float32 vmap', True),
                       ('mmmtl float32 loop', False)):
        rows[name] = row(built(model_cfg(regime, vmap)), mmmtl_loss)
    rows[PLAIN] = row(
        PlainConv4(model).to(device),
        lambda net: plain_loop_loss(net, regime, inputs, samples))
    try:
        import higher  # noqa: F401
        rows['higher 0.2.1'] = row(
            PlainConv4(model).to(device),
            lambda net: higher_loss(net, regime, inputs, samples))
    except ImportError:
        pass
    rows[ONE_GRAPH] = row(
        PlainConv4(model).to(device),
        lambda net: one_graph_loss(net, regime, inputs, samples))
    torch.manual_seed(0)
    rows[MTL_DEFAULT] = train_step_row(built(mtl_cfg(regime)), images,
                                       samples)
    if selected:
        rows = {k: v for k, v in rows.items() if k in selected}
    return rows


def bf16_meta_gradient(regime: dict, device: str = 'cpu') -> tuple:
    """Relative L2 distance to the float64 meta-gradient of MAML at its
    initial weights: of the default's (bfloat16 autocast, 'bfloat16'
    forced) and of the float32 meta-gradient of another meta-batch (the
    sampling noise the optimizer sees anyway)."""
    from mmmtl.engine import AutocastOptimWrapper
    images, inputs, samples = meta_batch(regime)
    other = inputs.flip(0).roll(1, dims=1)  # other tasks, other queries
    torch.manual_seed(0)
    model = MODELS.build(model_cfg(regime, None)).to(device)

    def grad(net, x, precision):
        net.zero_grad()
        wrapper = AutocastOptimWrapper(
            optimizer=torch.optim.SGD(net.parameters(), lr=0.0),
            precision=precision)
        with wrapper.optim_context(net):
            loss = net.loss(x.to(device), samples)['loss']
        loss.backward()
        return torch.cat([p.grad.double().flatten()
                          for p in net.parameters()])

    exact = grad(copy.deepcopy(model).double(), inputs.double(), 'float32')

    def distance(g):
        return float((g - exact).norm() / exact.norm())

    return (distance(grad(copy.deepcopy(model), inputs, 'bfloat16')),
            distance(grad(copy.deepcopy(model), other, 'float32')))


def meta_step_flops(regime: dict, rows: dict) -> int:
    """Floating-point operations of one plain-loop meta-step (forward and
    backward), as torch counts them."""
    from torch.utils.flop_counter import FlopCounterMode
    module, step = rows[PLAIN]
    optimizer = torch.optim.SGD(module.parameters(), lr=0.0)
    with FlopCounterMode(display=False) as counter:
        optimizer.zero_grad()
        step(optimizer)
    return counter.get_total_flops()


def matmul_rate(size: int = 1024, repeats: int = 10,
                device: str = 'cpu', dtype: torch.dtype = torch.float32
                ) -> float:
    """FLOP/s of a square matrix product in ``dtype`` (single precision by
    default), the best of ``repeats`` (what the device attains on dense
    arithmetic)."""
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    (a @ b).sum().item()
    best = float('inf')
    for _ in range(repeats):
        start = time.perf_counter()
        (a @ b).sum().item()  # .item() waits for a GPU
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best


def time_meta_test(episodes: int) -> None:
    """Seconds for ``episodes`` meta-test episodes (adapt + predict, the loop
    of tools/test.py) on random images: Omniglot-shaped 5-way 1-shot
    15-query episodes for MAML's 3 fine-tuning steps of all weights
    (functional, no model copies) and the transfer baseline's 100 steps of a
    cosine head on support features computed once per episode; and the
    miniImageNet study's MAML test (32x32 RGB, Conv4-32, 5-way 5-shot
    15-query, 10 steps with line search), also in the NCHW memory format."""
    regime = REGIMES['omniglot-ref']
    net = NETS['omniglot']
    torch.manual_seed(0)
    maml_cfg = model_cfg(regime, None)
    maml_cfg['adapter']['test_cfg'] = dict(num_steps=3)
    maml = MODELS.build(maml_cfg)
    transfer = MODELS.build(
        dict(type='TransferClassifier',
             backbone=dict(type='Conv4', in_channels=1,
                           track_running_stats=True),
             head=dict(type='LinearHead', in_channels=64,
                       num_classes=net['classes'])))
    study = dict(model_cfg(REGIMES['mini-32'], None), num_ways=5,
                 first_order=True)
    study['adapter'].update(head_init='zero', batch_size=50, line_search=True,
                            test_cfg=dict(num_steps=10))
    mini = MODELS.build(study)
    mini_nchw = MODELS.build(study)
    mini_nchw.load_state_dict(mini.state_dict())
    mini_nchw.backbone.channels_last = False
    omniglot = (5, 1, 15, 1, 28)
    rgb32 = (5, 5, 15, 3, 32)
    rows = []
    for name, model, (ways, shots, queries, channels, size) in (
        ('MAML, 3 steps of all weights (Omniglot 5w1s)', maml, omniglot),
        ('Transfer, 100 steps of a cosine head (Omniglot 5w1s)', transfer,
         omniglot),
        ('MAML, the 32x32 study test (5w5s, 10 steps, line search)', mini,
         rgb32),
        ('the same in NCHW (before channels_last)', mini_nchw, rgb32),
    ):
        gen = torch.Generator().manual_seed(1)
        labels = torch.arange(ways).repeat_interleave(shots)
        model.eval()
        start = time.perf_counter()
        for _ in range(episodes):
            x = torch.rand(ways * (shots + queries), channels, size, size,
                           generator=gen)
            state = model.adapt(x[:ways * shots], labels, ways)
            model.predict_query(state, x[ways * shots:])
        rows.append((name, time.perf_counter() - start))
    print(f'\nmeta-test: {episodes} episodes (random images), '
          f'{torch.get_num_threads()} thread(s)\n')
    print('| method | s for all episodes | ms / episode |')
    print('|---|---|---|')
    for name, seconds in rows:
        print(f'| {name} | {seconds:.1f} | {1000 * seconds / episodes:.1f} |')


def time_call_sizes(sizes=(5, 15, 25, 75, 150, 300, 600, 2400),
                    images: int = 2400) -> None:
    """Seconds for the second-order work on ``images`` 28x28 images (the
    reference regime's query sets: forward, gradient with its graph, double
    backward) at one set of weights, fed in calls of each size: whether
    larger or smaller batches than a task's would run the same arithmetic
    faster on this CPU."""
    torch.manual_seed(0)
    net = PlainConv4(MODELS.build(model_cfg(REGIMES['omniglot-ref'], None)))
    x = torch.randn(images, 1, 28, 28)
    y = torch.randint(0, 5, (images, ))
    print(f'\ncall size: {images} Omniglot images, second order, '
          f'{torch.get_num_threads()} thread(s), best of 2\n')
    print('| images per call | s for all images |')
    print('|---|---|')
    for size in sizes:
        best = float('inf')
        for _ in range(2):
            start = time.perf_counter()
            for i in range(0, images, size):
                loss = F.cross_entropy(net(x[i:i + size]), y[i:i + size])
                grads = torch.autograd.grad(
                    loss, list(net.parameters()), create_graph=True)
                sum((g**2).sum() for g in grads).backward()
            best = min(best, time.perf_counter() - start)
        print(f'| {size} | {best:.3f} |')


def main():
    args = parse_args()
    register_all_modules()
    if args.allocator == 'tuned' and not tune_allocator():
        raise SystemExit('--allocator tuned: glibc mallopt unavailable')
    print(f'allocator: {args.allocator}')
    for name in args.regimes:
        regime = REGIMES[name]
        for threads in args.threads:
            torch.set_num_threads(threads)
            rows = build_rows(regime, args.rows, args.device)
            flops = (meta_step_flops(regime, rows)
                     if PLAIN in rows else None)
            results = time_rows(regime, rows, args.repeats)
            maml_losses = {
                k: v[0]
                for k, v in results.items()
                if 'MTL' not in k and k != ONE_GRAPH
            }
            ref = next(v for k, v in maml_losses.items() if k != DEFAULT)
            for row, loss in maml_losses.items():
                # the default computes the query in bfloat16 where native
                tol = BF16_LOSS_TOL if row == DEFAULT else 1e-4
                assert abs(loss - ref) <= tol * max(1.0, abs(ref)), (
                    f'{name}: first meta-loss of {row} is {loss}, not {ref}')
            base = results.get(PLAIN)
            print(f'\n{name}: {regime}, {threads} thread(s), median of '
                  f'{args.repeats} meta-steps taken in turns; first '
                  f'meta-loss {ref:.6f} in every float32 MAML row (the '
                  f'default: {maml_losses.get(DEFAULT, ref):.6f})\n')
            print('| implementation | s / meta-step | speed vs plain loop |')
            print('|---|---|---|')
            for row, (_, seconds) in results.items():
                ratio = (f'{base[1] / seconds:.2f}x' if base else '-')
                print(f'| {row} | {seconds:.3f} | {ratio} |')
            mtl = results.get(MTL_DEFAULT)
            maml = results.get(DEFAULT)
            if mtl and maml:
                print(f'\nMTL-MAML / MAML iteration: {mtl[1] / maml[1]:.2f}')
            if DEFAULT in rows and threads == args.threads[0]:
                bf16, sampling = bf16_meta_gradient(regime, args.device)
                print(f'\nbfloat16 meta-gradient (precision forced): '
                      f'{100 * bf16:.1f}% from float64\'s (relative L2); '
                      f'another meta-batch\'s float32 gradient: '
                      f'{100 * sampling:.0f}%')
            if flops and base:
                peak = matmul_rate(device=args.device)
                rate = flops / base[1]
                print(f'\nroofline: a meta-step is {flops / 1e9:.2f} GFLOP; '
                      f'the plain loop runs it at {rate / 1e9:.1f} GFLOP/s, '
                      f'{100 * rate / peak:.0f}% of this machine\'s '
                      f'{peak / 1e9:.1f} GFLOP/s single-precision matrix '
                      f'product ({threads} thread(s)); 2x faster would need '
                      f'{200 * rate / peak:.0f}% of it')
            one_graph = results.get(ONE_GRAPH)
            if one_graph and base:
                print(f'batching: the same arithmetic with all tasks in one '
                      f'graph at shared weights takes {one_graph[1]:.3f} s, '
                      f'{base[1] / one_graph[1]:.2f}x the plain loop\'s '
                      'speed (the most that batching the tasks can give)')
    if args.call_sizes:
        torch.set_num_threads(args.threads[0])
        time_call_sizes()
    if args.meta_test_episodes:
        torch.set_num_threads(args.threads[0])
        time_meta_test(args.meta_test_episodes)


if __name__ == '__main__':
    main()
