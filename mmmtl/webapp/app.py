"""The web page (Gradio) over :class:`~mmmtl.webapp.Workbench`: define
classes from uploaded images, build a classifier, estimate its quality,
classify new images, save and load the custom model.

Every callback reports in the page: a user's mistake (an empty class, a
file that is not an image, a damaged saved model) shows its message, any
other failure its type and message; tracebacks go to the server's log
only. All files live in one temporary folder, removed by :meth:`close`.
"""
import functools
import logging
import os
import os.path as osp
import shutil
import signal
import sys
import tempfile
import traceback
from typing import Callable, Dict, List, Optional

from mmmtl.apis.model_zoo import DEFAULT_MODEL, list_models

from .uploads import UploadStore
from .workbench import Workbench, confusion_picture, load_saved_task

logger = logging.getLogger('mmmtl.webapp')
CONFIG_CHOICE = 'config + checkpoint given at start'


def _report(message: str) -> str:
    return f'**Error:** {message}'


def _skipped(skipped: List[str]) -> str:
    if not skipped:
        return ''
    shown = '; '.join(skipped[:5])
    more = f' (and {len(skipped) - 5} more)' if len(skipped) > 5 else ''
    return f'\n\n{len(skipped)} files skipped: {shown}{more}'


class WebApp:
    """The app's state on the server: its temporary folder, the models it
    loaded (one :class:`Workbench` each) and the page.

    Args:
        make_workbench: loads a model by its choice in the page (a model
            index name, or :data:`CONFIG_CHOICE`).
        choices: the model choices the page offers, the start one first.
    """

    def __init__(self, make_workbench: Callable[[str], Workbench],
                 choices: List[str]) -> None:
        self.folder = tempfile.mkdtemp(prefix='mmmtl-webapp-')
        # Gradio keeps uploads (and, read when it is imported, its other
        # files) in GRADIO_TEMP_DIR: inside the app's folder, removed with it
        os.environ['GRADIO_TEMP_DIR'] = osp.join(self.folder, 'gradio')
        os.environ.setdefault('GRADIO_ANALYTICS_ENABLED', 'False')
        self.uploads = UploadStore(osp.join(self.folder, 'images'))
        self._make_workbench = make_workbench
        self._workbenches: Dict[str, Workbench] = {}
        self.choices = choices

    def close(self) -> None:
        """Remove the app's files."""
        shutil.rmtree(self.folder, ignore_errors=True)

    def workbench(self, choice: str) -> Workbench:
        if choice not in self._workbenches:
            self._workbenches[choice] = self._make_workbench(choice)
        return self._workbenches[choice]

    def session_bench(self, state: dict) -> Workbench:
        if 'bench' not in state:
            state['bench'] = self.workbench(self.choices[0])
        state.setdefault('classes', {})
        return state['bench']

    def out_file(self, name: str) -> str:
        folder = tempfile.mkdtemp(dir=self.folder, prefix='out-')
        return osp.join(folder, name)

    # the page's callbacks: each returns (status markdown, *outputs)

    def choose_model(self, choice: str, state: dict):
        state['bench'] = self.workbench(choice)
        state['task'] = None
        return (f'Model: {state["bench"].description}; it sees '
                f'{state["bench"].input_summary()} images.', )

    def add_class(self, name: str, files: Optional[List[str]], state: dict):
        bench = self.session_bench(state)
        name = (name or '').strip()
        if not name:
            raise ValueError('give the class a name')
        if not files:
            raise ValueError(f'class {name!r}: choose its images first')
        images, skipped = self.uploads.add_files(files)
        if not images:
            raise ValueError(f'class {name!r}: none of the {len(files)} '
                             f'files is a usable image{_skipped(skipped)}')
        state['classes'].setdefault(name, []).extend(images)
        return self._class_report(bench, state,
                                  [p for p, _ in images], skipped)

    def add_zip(self, archive: Optional[str], state: dict):
        bench = self.session_bench(state)
        if not archive:
            raise ValueError('choose a zip of class folders first')
        found, skipped = self.uploads.add_zip(archive)
        if not found:
            raise ValueError(f'{osp.basename(archive)} holds no images in '
                             f'class folders (<class>/<image>)'
                             f'{_skipped(skipped)}')
        for name, images in found.items():
            state['classes'].setdefault(name, []).extend(images)
        return self._class_report(
            bench, state, [p for images in found.values()
                           for p, _ in images], skipped)

    def _class_report(self, bench: Workbench, state: dict,
                      added: List[str], skipped: List[str]):
        rows = [[name, len(images)]
                for name, images in state['classes'].items()]
        warnings = bench.domain_warnings(added)
        warned = ''.join(f'\n\n**Warning:** {w}' for w in warnings)
        status = (f'{len(added)} images added.{_skipped(skipped)}'
                  f'{warned}')
        preview = bench.preview(added[-1])
        caption = f'The model sees {bench.input_summary()} images.'
        return status, rows, preview, caption

    def clear_classes(self, state: dict):
        state['classes'] = {}
        state['task'] = None
        return 'Classes cleared.', []

    def build(self, state: dict, progress=None):
        bench = self.session_bench(state)
        report = progress or (lambda *a, **k: None)
        classes = state['classes']
        task = bench.build(
            classes, lambda f, text: report(0.3 * f, desc=text))
        state['task'] = task
        counts = ', '.join(f'{n} ({len(i)})' for n, i in classes.items())
        status = f'Built: {len(task.classes)} classes: {counts}.'
        picture = None
        if max(len(images) for images in classes.values()) > 1:
            accuracy, confusion, held = bench.estimate(
                classes,
                progress=lambda f, text: report(0.3 + 0.7 * f, desc=text))
            status += (f'\n\nQuality estimate: **{accuracy:.0%}** of {held} '
                       'held-out images of yours right (each predicted by '
                       'a model built without it; chance is '
                       f'{1 / len(classes):.0%}).')
            picture = confusion_picture(confusion, list(classes))
        else:
            status += ('\n\nNo quality estimate: give a class at least '
                       'two images.')
        return status, picture

    def _task(self, state: dict):
        task = state.get('task')
        if task is None:
            raise ValueError('build the model (or load a saved one) first')
        return task

    def classify(self, image: Optional[str], topk: float, state: dict):
        task = self._task(state)
        if not image:
            raise ValueError('choose an image to classify')
        stored, skipped = self.uploads.add_files([image])
        if not stored:
            raise ValueError(skipped[0])
        path = stored[0][0]
        bench = state['bench']
        top = Workbench.classify(task, path, int(topk))
        best = next(iter(top))
        warnings = ''.join(f'\n\n**Warning:** {w}'
                           for w in bench.domain_warnings([path]))
        return (f'Top class: **{best}** ({top[best]:.1%}){warnings}', top,
                bench.preview(path))

    def classify_many(self, files: Optional[List[str]], state: dict):
        task = self._task(state)
        if not files:
            raise ValueError('choose images or a zip of images first')
        images, skipped = [], []
        for path in files:
            if path.lower().endswith('.zip'):
                found, missed = self.uploads.add_zip(path, flat=True)
                images += [image for group in found.values()
                           for image in group]
                skipped += missed
            else:
                found, missed = self.uploads.add_files([path])
                images += found
                skipped += missed
        if not images:
            raise ValueError(f'no usable images{_skipped(skipped)}')
        out = state['bench'].classify_to_csv(
            task, images, self.out_file('predictions.csv'))
        return (f'{len(images)} images classified.{_skipped(skipped)}', out)

    def save(self, state: dict):
        task = self._task(state)
        out = self.out_file('custom_model.pth')
        task.save(out)
        return (f'Saved {len(task.classes)} classes: '
                f'{", ".join(task.classes)}.', out)

    def load(self, saved: Optional[str], state: dict):
        if not saved:
            raise ValueError('choose a saved model file first')
        task = load_saved_task(saved)
        bench = Workbench(task, f'saved model {osp.basename(saved)}')
        state.update(bench=bench, task=task, classes={})
        return (f'Loaded {osp.basename(saved)}: {len(task.classes)} classes '
                f'({", ".join(task.classes)}); the model sees '
                f'{bench.input_summary()} images.', )

    def build_page(self):
        """The Gradio page (a ``gradio.Blocks``)."""
        import gradio as gr

        def guarded(method):
            """Run a callback; a failure becomes the status message and
            leaves the other outputs as they were."""
            outputs = {
                'choose_model': 0, 'add_class': 3, 'add_zip': 3,
                'clear_classes': 1, 'build': 1, 'classify': 2,
                'classify_many': 1, 'save': 1, 'load': 0
            }[method.__name__]

            @functools.wraps(method)
            def run(*args, **kwargs):
                try:
                    return method(*args, **kwargs)
                except (ValueError, FileNotFoundError, KeyError) as err:
                    message = str(err.args[0] if isinstance(
                        err, KeyError) and err.args else err)
                except Exception as err:
                    logger.error(traceback.format_exc())
                    message = f'{type(err).__name__}: {err}'
                return (_report(message), ) + (gr.skip(), ) * outputs

            return run

        def build(state, progress=gr.Progress()):
            return self.build(state, progress)

        build.__name__ = 'build'
        with gr.Blocks(title='mmmtl: your own classifier',
                       analytics_enabled=False) as page:
            state = gr.State({})
            gr.Markdown('# Your own image classifier\nDefine classes with '
                        'a few images each, build a classifier on a '
                        'trained few-shot model, check it, use it.')
            with gr.Accordion('Model', open=False):
                model = gr.Dropdown(self.choices, value=self.choices[0],
                                    label='model', elem_id='model')
                model_status = gr.Markdown(elem_id='model-status')
            gr.Markdown('## 1. Classes')
            with gr.Row():
                with gr.Column():
                    class_name = gr.Textbox(label='class name',
                                            elem_id='class-name')
                    class_files = gr.File(file_count='multiple',
                                          label='its images',
                                          elem_id='class-files')
                    add = gr.Button('Add images to the class',
                                    elem_id='add-class')
                with gr.Column():
                    class_zip = gr.File(label='or a zip of class folders '
                                        '(<class>/<image>)',
                                        file_types=['.zip'],
                                        elem_id='class-zip')
                    add_zip = gr.Button('Add the zip', elem_id='add-zip')
                    clear = gr.Button('Remove all classes',
                                      elem_id='clear-classes')
                with gr.Column():
                    table = gr.Dataframe(headers=['class', 'images'],
                                         label='classes', interactive=False,
                                         elem_id='classes-table')
                    preview = gr.Image(label='what the model sees',
                                       interactive=False,
                                       elem_id='preview')
                    caption = gr.Markdown(elem_id='preview-caption')
            class_status = gr.Markdown(elem_id='classes-status')
            gr.Markdown('## 2. Build')
            build_button = gr.Button('Build the model', variant='primary',
                                     elem_id='build')
            build_status = gr.Markdown(elem_id='build-status')
            confusion = gr.Image(label='confusion matrix of the quality '
                                 'estimate', interactive=False,
                                 elem_id='confusion')
            gr.Markdown('## 3. Classify')
            with gr.Row():
                with gr.Column():
                    query = gr.Image(type='filepath', label='an image',
                                     sources=['upload'], elem_id='query')
                    topk = gr.Slider(1, 10, value=3, step=1,
                                     label='classes shown',
                                     elem_id='topk')
                    classify = gr.Button('Classify', elem_id='classify')
                with gr.Column():
                    top = gr.Label(label='most likely classes',
                                   elem_id='top-k')
                    query_preview = gr.Image(label='what the model sees',
                                             interactive=False,
                                             elem_id='query-preview')
            classify_status = gr.Markdown(elem_id='classify-status')
            with gr.Row():
                many = gr.File(file_count='multiple', label='many images, '
                               'or a zip of them', elem_id='many')
                many_button = gr.Button('Classify all (CSV)',
                                        elem_id='classify-many')
                csv_file = gr.File(label='predictions', elem_id='csv')
            many_status = gr.Markdown(elem_id='many-status')
            gr.Markdown('## 4. Save or load')
            with gr.Row():
                save = gr.Button('Save the model', elem_id='save')
                saved = gr.File(label='saved model', elem_id='saved')
                to_load = gr.File(label='a saved model to load',
                                  file_types=['.pth'], elem_id='load-file')
                load = gr.Button('Load it', elem_id='load')
            save_status = gr.Markdown(elem_id='save-status')

            model.change(guarded(self.choose_model), [model, state],
                         [model_status])
            add.click(guarded(self.add_class),
                      [class_name, class_files, state],
                      [class_status, table, preview, caption])
            add_zip.click(guarded(self.add_zip), [class_zip, state],
                          [class_status, table, preview, caption])
            clear.click(guarded(self.clear_classes), [state],
                        [class_status, table])
            build_button.click(guarded(build), [state],
                               [build_status, confusion])
            classify.click(guarded(self.classify), [query, topk, state],
                           [classify_status, top, query_preview])
            many_button.click(guarded(self.classify_many), [many, state],
                              [many_status, csv_file])
            save.click(guarded(self.save), [state], [save_status, saved])
            load.click(guarded(self.load), [to_load, state], [save_status])
        return page

    def launch(self, host: str = '127.0.0.1', port: int = 7860,
               block: bool = True):
        """Serve the page; with ``block`` until interrupted (Ctrl-C or
        SIGTERM; then the app's files are removed). Returns (gradio app,
        local URL)."""
        page = self.build_page()
        self.page = page
        app, url, _ = page.launch(
            server_name=host,
            server_port=port,
            prevent_thread_lock=True,
            ssr_mode=False,
            share=False,
            quiet=not block,
            allowed_paths=[self.folder],
            max_file_size=f'{self.uploads.max_zip_bytes // 10**6}mb')
        if block:
            # a plain kill stops it as Ctrl-C does, files removed
            signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
            try:
                page.block_thread()
            finally:
                page.close()
                self.close()
        return app, url


def choices_and_loader(config: Optional[str] = None,
                       checkpoint: Optional[str] = None,
                       model: Optional[str] = None,
                       root: Optional[str] = None):
    """The model choices of the page (the start model first) and the
    function that loads a choice."""
    zoo = list_models(root=root, with_weights=True)
    start = CONFIG_CHOICE if config else (model or DEFAULT_MODEL)
    choices = [start] + [n for n in [DEFAULT_MODEL] + zoo if n != start]

    def load(choice: str) -> Workbench:
        if choice == CONFIG_CHOICE:
            return Workbench.from_config(config, checkpoint)
        return Workbench.from_model_zoo(choice, root=root)

    return choices, load
