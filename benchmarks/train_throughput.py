"""Training throughput at full resolution: images per second of a whole
training step (data preprocessor, forward, backward, optimizer step) of the
project's 84x84 miniImageNet configs, per numeric precision and memory
layout, beside this machine's matrix-product rate (the roofline) and the
data pipeline's own rate.

    python benchmarks/train_throughput.py [--models transfer protonet ...]
        [--threads 1 2] [--repeats 5] [--data-root data/mini_imagenet]
        [--device cpu]

Models (configs/ at 84x84, the published resolution): ``transfer``
(Baseline, Conv4-64, batch 128), ``baseline-plus`` (Baseline++, the same
with a cosine head), ``protonet`` (Conv4-64, 20-way 5-shot 15-query
episodes), ``maml`` (Conv4-32, 4 tasks of 5-way 1-shot 15-query, 5
second-order inner steps), ``mtl-maml`` (the same plus the transfer
branch), and ``*-resnet12`` for transfer, protonet, maml and mtl-maml.

Each model is built from its config (same seed, so the same initial
weights) once per variant: float32 in NCHW (the configs before this
benchmark existed), float32 with the backbone in channels-last while
training (Conv4's ``train_channels_last``), and the same two under
bfloat16 autocast (``AutocastOptimWrapper``, precision 'bfloat16'; only
where the device computes bfloat16 natively). The variant the config
runs today is marked. All variants take the same real batch (the config's
own train dataloader, seed 0); the script checks that their first losses
agree (float32 to 1e-3 relative: five second-order inner steps amplify the
layouts' different summation orders; bfloat16 to 3e-2). After two warm-up steps
the variants take turns, one step each, ``--repeats`` rounds; the median is
reported. A variant whose first loss is off is marked in the table and
the script exits non-zero after printing it.

Roofline: the step's floating-point work counted by torch's
FlopCounterMode (convolutions and matrix products, forward and backward,
second order included) divided by the step's time, as a share of a large
square matrix product's rate in the variant's precision at the same thread
count. The data pipeline: images per second of the config's train pipeline
per item (decoding the file each time) and with the split decoded into
memory first (``cache_images=True``, over the first ``--cache-images``
images of the split), on one thread; "with data" adds the config's own
data time per image to the step's (the Runner loads batches in the
training process: ``num_workers=0`` on this 2-core machine). Needs the
miniImageNet images (docs/datasets.md); prints markdown tables.
"""
import argparse
import copy
import os
import os.path as osp
import statistics
import sys
import time

import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.runner import Runner

import mmmtl  # noqa: F401
from mmmtl.engine.optim_wrappers.autocast_optim_wrapper import native_bf16
from mmmtl.registry import DATASETS, MODELS
from mmmtl.utils import register_all_modules, tune_allocator

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from maml_speed import matmul_rate  # noqa: E402

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = {
    'transfer': 'transfer/baseline_conv4_1xb128_mini-imagenet_5way-1shot.py',
    'baseline-plus':
    'transfer/baseline-plus_conv4_1xb128_mini-imagenet_5way-1shot.py',
    'protonet': 'protonet/protonet_conv4_1xb1_mini-imagenet_5way-5shot.py',
    'maml': 'maml/maml_conv4_1xb4_mini-imagenet_5way-1shot.py',
    'mtl-maml': 'mtl/mtl-maml_conv4_1xb4_mini-imagenet_5way-1shot.py',
    'transfer-resnet12':
    'transfer/baseline_resnet12_1xb128_mini-imagenet_5way-1shot.py',
    'protonet-resnet12':
    'protonet/protonet_resnet12_1xb1_mini-imagenet_5way-5shot.py',
    'maml-resnet12': 'maml/maml_resnet12_1xb4_mini-imagenet_5way-1shot.py',
    'mtl-maml-resnet12':
    'mtl/mtl-maml_resnet12_1xb4_mini-imagenet_5way-1shot.py',
}
# (name, bfloat16 autocast, channels-last training)
VARIANTS = [('float32 NCHW', False, False),
            ('float32 channels-last', False, True),
            ('bf16 NCHW', True, False),
            ('bf16 channels-last', True, True)]
LOSS_TOL = {False: 1e-3, True: 3e-2}


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--models', nargs='+', default=list(CONFIGS),
                        choices=list(CONFIGS))
    parser.add_argument('--threads', type=int, nargs='+', default=[1, 2])
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument(
        '--data-root',
        default=os.environ.get('MMMTL_MINI_IMAGENET',
                               osp.join(REPO, 'data', 'mini_imagenet')))
    parser.add_argument('--cache-images', type=int, default=2000,
                        help='images decoded into memory for the cached '
                        'data-pipeline row')
    parser.add_argument('--device', default='cpu')
    return parser.parse_args()


def load_config(name: str, data_root: str) -> Config:
    cfg = Config.fromfile(osp.join(REPO, 'configs', CONFIGS[name]))
    base_dataset(cfg.train_dataloader.dataset).data_root = data_root
    return cfg


def base_dataset(dataset_cfg: dict) -> dict:
    """The image dataset inside the wrappers (episodes) of a dataset cfg."""
    while 'dataset' in dataset_cfg:
        dataset_cfg = dataset_cfg['dataset']
    return dataset_cfg


def configured_variant(cfg: Config) -> str:
    """The VARIANTS name the config trains with today."""
    wrapper = cfg.optim_wrapper
    bf16 = (wrapper.get('type') == 'AutocastOptimWrapper'
            and wrapper.get('precision', 'auto') != 'float32'
            and native_bf16(torch.device('cpu')))
    layout = cfg.model.get('backbone', cfg.model.get('meta_branch', {}).get(
        'backbone', {})).get('train_channels_last', False)
    return next(name for name, b, c in VARIANTS if (b, c) == (bf16, layout))


def build(cfg: Config, bf16: bool, channels_last: bool, device: str):
    """(model, optimizer wrapper) of ``cfg`` in one variant, seed 0."""
    model_cfg = copy.deepcopy(cfg.model)
    backbone = (model_cfg.meta_branch.backbone
                if 'meta_branch' in model_cfg else model_cfg.backbone)
    if backbone.type == 'Conv4':
        backbone.train_channels_last = channels_last
    elif channels_last:
        return None
    torch.manual_seed(0)
    model = MODELS.build(model_cfg).to(device).train()
    wrapper_cfg = copy.deepcopy(cfg.optim_wrapper)
    wrapper_cfg.type = 'AutocastOptimWrapper'
    wrapper_cfg.precision = 'bfloat16' if bf16 else 'float32'
    return model, build_optim_wrapper(model, wrapper_cfg)


def images_in(batch: dict) -> int:
    img = batch['img']
    return len(img) if isinstance(img, list) else img.shape[:-3].numel()


def step_flops(model, wrapper, batch) -> int:
    from torch.utils.flop_counter import FlopCounterMode
    with FlopCounterMode(display=False) as counter:
        model.train_step(batch, wrapper)
    return counter.get_total_flops()


def time_steps(rows: dict, batch: dict, repeats: int) -> dict:
    """{variant: (first loss, median seconds per step)}, variants taking
    turns after two warm-up steps each."""
    first, times = {}, {name: [] for name in rows}
    for name, (model, wrapper) in rows.items():
        torch.manual_seed(0)  # the same draws of a batch augmentation
        first[name] = model.train_step(batch, wrapper)['loss'].item()
        model.train_step(batch, wrapper)
    for _ in range(repeats):
        for name, (model, wrapper) in rows.items():
            start = time.perf_counter()
            model.train_step(batch, wrapper)['loss'].item()  # waits for GPU
            times[name].append(time.perf_counter() - start)
    return {n: (first[n], statistics.median(times[n])) for n in rows}


def pipeline_rate(cfg: Config, cache: int) -> dict:
    """{'per item' | 'cached': images per second} of the train pipeline."""
    rates = {}
    for label, extra in (('per item', dict(cache_images=False)),
                         ('cached', dict(cache_images=True,
                                         indices=cache))):
        dataset_cfg = dict(copy.deepcopy(base_dataset(
            cfg.train_dataloader.dataset)), **extra)
        dataset = DATASETS.build(dataset_cfg)
        count = min(256, len(dataset))
        start = time.perf_counter()
        for i in range(count):
            dataset[i * (len(dataset) // count)]
        rates[label] = count / (time.perf_counter() - start)
    return rates


def main():
    args = parse_args()
    register_all_modules()
    tune_allocator()
    bf16_native = native_bf16(torch.device(args.device))
    variants = [v for v in VARIANTS if bf16_native or not v[1]]
    if not bf16_native:
        print(f'{args.device} has no native bfloat16: float32 rows only\n')
    torch.set_num_threads(1)
    data_rates, pipelines, measured = {}, {}, {}
    for name in args.models:
        cfg = load_config(name, args.data_root)
        dataset_cfg = base_dataset(cfg.train_dataloader.dataset)
        pipelines[name] = [t['type'] for t in dataset_cfg.pipeline]
        key = (dataset_cfg.type, repr(dataset_cfg.pipeline))
        if key not in measured:  # models sharing a pipeline: timed once
            measured[key] = pipeline_rate(cfg, args.cache_images)
        rates = measured[key]
        configured = 'cached' if dataset_cfg.get('cache_images') else \
            'per item'
        data_rates[name] = (rates, configured)
    results, mismatches = [], []
    for threads in args.threads:
        torch.set_num_threads(threads)
        peak = {False: matmul_rate(device=args.device),
                True: matmul_rate(device=args.device,
                                  dtype=torch.bfloat16)}
        print(f'{threads} thread(s): matrix product {peak[False] / 1e9:.0f} '
              f'GFLOP/s float32, {peak[True] / 1e9:.0f} bfloat16')
        for name in args.models:
            cfg = load_config(name, args.data_root)
            loader = Runner.build_dataloader(cfg.train_dataloader, seed=0)
            batch = next(iter(loader))
            images = images_in(batch)
            rows = {}
            for label, bf16, layout in variants:
                built = build(cfg, bf16, layout, args.device)
                if built is not None:
                    rows[label] = built
            flops = step_flops(*copy.deepcopy(rows['float32 NCHW']), batch)
            timed = time_steps(rows, batch, args.repeats)
            reference = timed['float32 NCHW']
            today = configured_variant(cfg)
            for label, (loss, seconds) in timed.items():
                bf16 = label.startswith('bf16')
                if abs(loss - reference[0]) > LOSS_TOL[bf16] * abs(
                        reference[0]):
                    mismatches.append(
                        f'{threads} thread(s), {name} {label}: first loss '
                        f'{loss:.6f}, float32 NCHW {reference[0]:.6f}')
                    label += ' (loss differs!)'
                rates, configured = data_rates[name]
                with_data = images / (seconds + images / rates[configured])
                results.append(
                    (threads, name, label + (' (config)' if label == today
                                             else ''), images / seconds,
                     with_data, reference[1] / seconds,
                     flops / seconds / 1e9,
                     100 * flops / seconds / peak[bf16], loss))
            print(f'  {name}: {images} images, {flops / 1e9:.1f} GFLOP per '
                  f'step, done', flush=True)
    print('\n| threads | model | variant | images / s | with data | '
          'speed-up | GFLOP/s | % of matmul rate | first loss |')
    print('|---|---|---|---|---|---|---|---|---|')
    for (threads, name, label, rate, with_data, ratio, gflops, share,
         loss) in results:
        print(f'| {threads} | {name} | {label} | {rate:.1f} | '
              f'{with_data:.1f} | {ratio:.2f}x | {gflops:.0f} | {share:.0f}% '
              f'| {loss:.4f} |')
    print('\nData pipeline, 1 thread, images / s (decoded per item | from '
          'the in-memory cache; the config\'s in "with data"):')
    for name in args.models:
        rates, configured = data_rates[name]
        print(f'- {name} ({" > ".join(pipelines[name])}): '
              f'{rates["per item"]:.0f} | {rates["cached"]:.0f} '
              f'(config: {configured})')
    if mismatches:
        raise SystemExit('first losses beyond the tolerance (the rows are '
                         'marked):\n' + '\n'.join(mismatches))


if __name__ == '__main__':
    main()
