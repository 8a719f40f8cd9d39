import os.path as osp

from setuptools import find_packages, setup


def read_requirements(name):
    path = osp.join(osp.dirname(__file__), 'requirements', name)
    with open(path) as f:
        return [line.strip() for line in f
                if line.strip() and not line.startswith('#')]


def read_version():
    scope = {}
    with open(osp.join(osp.dirname(__file__), 'mmmtl', 'version.py')) as f:
        exec(f.read(), scope)
    return scope['__version__']


# openmim (`mim train mmmtl CONFIG`, `mim test mmmtl CONFIG --checkpoint CKPT`)
# looks for configs and tools inside the installed package, in mmmtl/.mim/:
# symbolic links to the repository's folders, which a wheel (pip install .)
# stores as copies and an editable install uses as they are.
MIM_FILES = [
    '.mim/model-index.yml',
    '.mim/configs/*/*.py',
    '.mim/configs/*/*.yml',
    '.mim/configs/*/*.md',
    '.mim/configs/_base_/*/*.py',
    '.mim/tools/*.py',
    '.mim/tools/*.sh',
    '.mim/tools/*/*.py',
    # the default model's weights (mmmtl.apis.get_model, tools/webapp.py)
    '.mim/checkpoints/*.pth',
]

setup(
    name='mmmtl',
    version=read_version(),
    description='Few-shot image classification by meta-transfer learning, '
    'OpenMMLab style',
    long_description=open('README.md').read() if osp.isfile('README.md')
    else '',
    long_description_content_type='text/markdown',
    packages=find_packages(exclude=('tests', 'configs', 'tools')),
    python_requires='>=3.9',
    install_requires=read_requirements('runtime.txt'),
    # the tests exercise the optional TensorBoard backend too; app: the
    # web page of tools/webapp.py
    extras_require=dict(
        tests=read_requirements('tests.txt') +
        read_requirements('tensorboard.txt'),
        tensorboard=read_requirements('tensorboard.txt'),
        app=read_requirements('app.txt')),
    package_data=dict(mmmtl=MIM_FILES),
    license='Apache-2.0',
)
