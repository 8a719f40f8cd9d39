"""Strip a training checkpoint to the model's weights, the file that a
model-index entry ships (``Weights``) and :func:`mmmtl.apis.get_model`
loads:

    python tools/misc/export_model.py CONFIG CHECKPOINT OUT [--name NAME]

The checkpoint is read weights-only and loaded strictly into CONFIG's
model (so OUT surely fits the config); OUT holds only its state_dict
(float tensors as saved, no optimizer, no message hub), written atomically
(a temporary file renamed). Prints the SHA-256 and the lines to put into
the model's metafile entry.
"""
import argparse
import os
import os.path as osp
import tempfile

import torch

from mmmtl.apis import init_model
from mmmtl.apis.model_zoo import file_sha256

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def build_parser() -> argparse.ArgumentParser:
    """The command line (also read by the docs check, tests/test_docs.py)."""
    parser = argparse.ArgumentParser(
        description='Export the weights of a trained model for the model '
        'index')
    parser.add_argument('config', help='the config the model was trained '
                        'with')
    parser.add_argument('checkpoint', help='a checkpoint of tools/train.py '
                        '(or a state_dict file)')
    parser.add_argument('out', help='the weights file to write')
    parser.add_argument('--name', help='the model\'s name in the index '
                        '(printed with the metafile lines)')
    return parser


def parse_args(argv=None):
    return build_parser().parse_args(argv)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def export(config: str, checkpoint: str, out: str) -> str:
    """Write the model weights of ``checkpoint`` to ``out``; returns the
    file's SHA-256."""
    model, _ = init_model(config, checkpoint, 'cpu')
    state_dict = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    folder = osp.dirname(osp.abspath(out))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix='.export-', suffix='.pth', dir=folder)
    try:
        with os.fdopen(fd, 'wb') as f:
            torch.save(state_dict, f)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp's file is private
        os.replace(tmp, out)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise
    return file_sha256(out)


def main(argv=None) -> str:
    args = parse_args(argv)
    sha256 = export(args.config, args.checkpoint, args.out)
    out = osp.abspath(args.out)
    shown = osp.relpath(out, ROOT) if out.startswith(ROOT + os.sep) else out
    print(f'wrote {shown} ({osp.getsize(out) / 1e6:.2f} MB), '
          f'SHA-256 {sha256}')
    entry = f' of model {args.name}' if args.name else ''
    print(f'put into the metafile entry{entry} (Config: {args.config}):\n'
          f'    Weights: {shown}\n    Weights SHA256: {sha256}')
    return sha256


if __name__ == '__main__':
    main()
