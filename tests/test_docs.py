"""The docs check: every ``python tools/...`` / ``bash tools/...`` command
that README.md and docs/*.md show names a script that exists and uses only
flags its argument parser accepts (read from the tool's ``build_parser()``;
nothing is run), and every config or tool path a doc names exists.

Commands are read from fenced code blocks (``\\`` continuations joined),
indented code lines and inline code spans (which may wrap over lines), and
split at ``&&``, ``||``, ``;`` and `` | ``. ``bash tools/dist_train.sh`` /
``dist_test.sh`` pass their options on to ``train.py`` / ``test.py``."""
import functools
import glob
import importlib.util
import os.path as osp
import re
import shlex
from typing import Iterator, List, NamedTuple

import pytest

from conftest import REPO

DOCS = ['README.md'] + sorted(
    osp.relpath(p, REPO) for p in glob.glob(osp.join(REPO, 'docs', '*.md')))
# shell scripts that hand their trailing options to a Python tool
FORWARDS = {
    'tools/dist_train.sh': 'tools/train.py',
    'tools/dist_test.sh': 'tools/test.py',
}
SPLIT = re.compile(r'&&|\|\||;|\s\|\s')
FLAG = re.compile(r'^(--?[A-Za-z][\w-]*)')
PATH = re.compile(r'(?<![\w./-])((?:configs|tools)/[\w./-]+\.(?:py|sh|yml))')


class Command(NamedTuple):
    doc: str
    line: int  # where the command starts in the doc
    script: str  # e.g. tools/test.py
    flags: List[str]
    text: str


def code_snippets(text: str) -> Iterator[tuple]:
    """(line number, code) of every fenced block line (continuations
    joined), indented code line and inline code span of a markdown text."""
    lines = text.splitlines()
    fenced = False
    prose = []  # (line number, text) outside fences
    pending, start = '', 0
    for number, line in enumerate(lines, 1):
        if line.lstrip().startswith('```'):
            fenced = not fenced
            continue
        if fenced:
            if not pending:
                start = number
            if line.rstrip().endswith('\\'):
                pending += line.rstrip()[:-1] + ' '
                continue
            yield start, pending + line
            pending = ''
        elif line.startswith('    ') and not line.lstrip().startswith(
                ('-', '*')):
            yield number, line
            prose.append((number, line))
        else:
            prose.append((number, line))
    body = '\n'.join(line for _, line in prose)
    numbers = [number for number, _ in prose]
    for match in re.finditer(r'`([^`]+)`', body):
        line = numbers[body.count('\n', 0, match.start())]
        yield line, match.group(1).replace('\n', ' ')


def tool_commands(doc: str, text: str) -> Iterator[Command]:
    """Every tool command of a doc, with the flags it uses."""
    for line, code in code_snippets(text):
        for piece in SPLIT.split(code):
            try:
                words = shlex.split(piece)
            except ValueError:  # unbalanced quotes in prose
                words = piece.split()
            while words and (re.match(r'^\w+=', words[0])
                             or words[0] in ('$', 'time', 'nohup')):
                words = words[1:]  # prompt, VAR=value prefixes
            if len(words) >= 2 and words[0] in ('python', 'python3',
                                                'bash'):
                words = words[1:]
            elif len(words) < 2:
                continue  # a path named in prose, not a command
            if not words or not re.match(r'^tools/[\w/.-]+\.(py|sh)$',
                                         words[0]):
                continue
            flags = []
            for word in words[1:]:
                match = FLAG.match(word.lstrip('[('))
                if match:
                    flags.append(match.group(1))
            yield Command(doc, line, words[0], flags, piece.strip())


@functools.lru_cache(maxsize=None)
def accepted_flags(script: str) -> frozenset:
    """The option strings of ``script``'s ``build_parser()``."""
    path = osp.join(REPO, script)
    name = 'docs_check_' + re.sub(r'\W', '_', script)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # tools run only under __main__
    if not hasattr(module, 'build_parser'):
        raise AttributeError(f'{script} has no build_parser(); the docs '
                             'check reads its flags from it')
    return frozenset(build_flags(module.build_parser()))


def build_flags(parser) -> List[str]:
    return [s for action in parser._actions for s in action.option_strings]


def command_errors(command: Command) -> List[str]:
    """What is wrong with one documented command (empty: nothing)."""
    where = f'{command.doc}:{command.line}: {command.text!r}'
    if not osp.isfile(osp.join(REPO, command.script)):
        return [f'{where}: {command.script} does not exist']
    parser_script = FORWARDS.get(command.script, command.script)
    if parser_script.endswith('.sh'):
        return []  # a shell script with positional arguments only
    known = accepted_flags(parser_script)
    return [
        f'{where}: {parser_script} does not accept {flag}'
        for flag in command.flags if flag not in known
    ]


def written_by_doc(text: str) -> set:
    """Paths a tutorial writes: the last path named in the paragraph just
    before a fenced code block (``... `configs/x/my_config.py`:``)."""
    written, paragraph, fenced, ended = set(), [], False, False
    for line in text.splitlines():
        if line.lstrip().startswith('```'):
            named = [m.group(1) for part in paragraph
                     for m in PATH.finditer(part)]
            if named and not fenced:
                written.add(named[-1])
            paragraph, fenced = [], not fenced
        elif fenced:
            continue
        elif not line.strip():
            ended = True
        else:
            paragraph = [line] if ended else paragraph + [line]
            ended = False
    return written


def path_errors(doc: str, text: str) -> List[str]:
    """Config / tool paths named in a doc that do not exist (but for the
    files the doc shows how to write)."""
    errors = []
    written = written_by_doc(text)
    for number, line in enumerate(text.splitlines(), 1):
        for match in PATH.finditer(line):
            path = match.group(1)
            if '...' in path or path in written or osp.exists(
                    osp.join(REPO, path)):
                continue
            errors.append(f'{doc}:{number}: {path} does not exist')
    return errors


def read(doc):
    with open(osp.join(REPO, doc)) as f:
        return f.read()


@pytest.mark.parametrize('doc', DOCS)
def test_documented_tool_commands_use_existing_scripts_and_flags(doc):
    errors = []
    for command in tool_commands(doc, read(doc)):
        errors += command_errors(command)
    assert not errors, '\n'.join(errors)


@pytest.mark.parametrize('doc', DOCS)
def test_documented_config_and_tool_paths_exist(doc):
    errors = path_errors(doc, read(doc))
    assert not errors, '\n'.join(errors)


def test_the_docs_show_commands_of_every_main_tool():
    shown = {c.script for doc in DOCS for c in tool_commands(doc, read(doc))}
    assert {'tools/train.py', 'tools/test.py', 'tools/adapt.py',
            'tools/dist_train.sh', 'tools/misc/print_config.py',
            'tools/visualization/browse_dataset.py'} <= shown


def test_check_finds_a_planted_mismatch():
    """The check itself: a wrapped fenced command with a flag test.py does
    not have, an inline one over two lines, a missing script, a missing
    config, and the dist script's forwarded flags."""
    doc = textwrap_doc()
    assert written_by_doc(doc) == {'tools/mine.py'}
    commands = sorted(tool_commands('planted.md', doc),
                      key=lambda c: c.line)
    assert [(c.line, c.script, c.flags) for c in commands] == [
        (2, 'tools/train.py', ['--work-dir']),
        (2, 'tools/test.py', ['--ways', '--no-such-flag']),
        (6, 'tools/test.py', ['--shots', '--episodez']),
        (9, 'tools/nope.py', []),
        (11, 'tools/dist_test.sh', ['--queries', '--wayz']),
    ]
    errors = [e for c in commands for e in command_errors(c)]
    assert len(errors) == 4
    assert "planted.md:2: " in errors[0] and 'does not accept --no-such' \
        in errors[0]
    assert 'tools/test.py does not accept --episodez' in errors[1]
    assert 'tools/nope.py does not exist' in errors[2]
    assert 'tools/test.py does not accept --wayz' in errors[3]
    assert path_errors('planted.md', doc) == [
        'planted.md:2: configs/mtl/no_such_config.py does not exist',
        'planted.md:9: tools/nope.py does not exist'
    ]


def textwrap_doc():
    return ('```bash\n'
            'python tools/train.py configs/mtl/no_such_config.py '
            '--work-dir w && \\\n'
            '  python tools/test.py C K [--ways 5 20] --no-such-flag\n'
            '```\n\n'
            'Run `python tools/test.py C K --shots 1\n'
            '--episodez 3` to test.\n\n'
            '    $ python tools/nope.py\n\n'
            '`bash tools/dist_test.sh C K 2 --queries 5 --wayz 3`\n\n'
            'Write `tools/mine.py`:\n\n```python\n```\n')
