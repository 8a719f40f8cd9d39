"""A web page to build a classifier of your own classes from a few images
each (``pip install -e ".[app]"``):

python tools/webapp.py [CONFIG CHECKPOINT] [--model NAME] [--port 7860]
    [--host 127.0.0.1] [--threads N]

Without CONFIG CHECKPOINT it starts on the model index's model NAME (by
default the default model, ``mmmtl.apis.DEFAULT_MODEL``).
"""
import argparse
import importlib.util
import sys

from mmmtl.utils import add_threads_option, setup_threads, tune_allocator


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``tools/webapp.py`` (also read by the docs
    check, tests/test_docs.py)."""
    parser = argparse.ArgumentParser(
        description='Serve the custom-classes web app')
    parser.add_argument('config', nargs='?', help='config file path')
    parser.add_argument('checkpoint', nargs='?', help='its checkpoint')
    parser.add_argument('--model', help='a model of the model index '
                        '(mmmtl.apis.list_models()) instead of CONFIG '
                        'CHECKPOINT')
    parser.add_argument('--port', type=int, default=7860)
    parser.add_argument('--host', default='127.0.0.1', help='the address '
                        'to serve on (0.0.0.0 opens it to your network)')
    add_threads_option(parser)
    return parser


def parse_args(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if bool(args.config) != bool(args.checkpoint):
        parser.error('give both CONFIG and CHECKPOINT, or neither')
    if args.config and args.model:
        parser.error('give CONFIG CHECKPOINT or --model, not both')
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    setup_threads(args.threads)
    tune_allocator()
    if importlib.util.find_spec('gradio') is None:
        sys.exit('the web app needs Gradio: pip install -e ".[app]"')
    from mmmtl.webapp.app import WebApp, choices_and_loader
    choices, load = choices_and_loader(args.config, args.checkpoint,
                                       args.model)
    app = WebApp(load, choices)
    try:
        bench = app.workbench(choices[0])  # fail here, not in the page
    except (FileNotFoundError, KeyError, ValueError, RuntimeError) as err:
        app.close()
        sys.exit(f'error: {err.args[0] if isinstance(err, KeyError) else err}')
    print(f'model: {bench.description}; it sees {bench.input_summary()} '
          'images')
    app.launch(args.host, args.port)


if __name__ == '__main__':
    main()
