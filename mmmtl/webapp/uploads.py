"""Uploaded images, checked and copied into the app's private folder.

Nothing a user uploads chooses a path on the server: each accepted image is
stored under a generated name; a zip archive is read member by member
(paths with ``..``, absolute paths and links are skipped, sizes are
bounded while reading, not taken from the archive's headers). A file that
is not a decodable image within the limits is skipped with its reason.
"""
import io
import os
import os.path as osp
import uuid
import warnings
import zipfile
from pathlib import PurePosixPath
from typing import Dict, List, Tuple

from PIL import Image

# formats the project's decoders read from the file's own bytes; images of
# other formats are stored re-encoded as PNG
KEPT_FORMATS = {'JPEG': '.jpg', 'PNG': '.png'}


class UploadStore:
    """Checks uploaded images and keeps copies under ``folder``.

    Args:
        folder: a private folder for the copies (the app's temporary one).
        max_image_mb: the largest image file accepted, in MB.
        max_megapixels: the largest image accepted, in megapixels (also
            guards against decompression bombs).
        max_zip_mb: the most bytes read from one zip archive, in MB.
        max_files: the most files taken from one upload.

    Example:
        >>> import tempfile
        >>> import numpy as np
        >>> from PIL import Image
        >>> folder = tempfile.mkdtemp()
        >>> store = UploadStore(folder)
        >>> buffer = io.BytesIO()
        >>> Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(buffer, 'png')
        >>> store.add_image('black.png', buffer.getvalue()).endswith('.png')
        True
        >>> store.add_image('notes.txt', b'hello')
        Traceback (most recent call last):
        ...
        ValueError: notes.txt: not an image (cannot identify image file)
    """

    def __init__(self,
                 folder: str,
                 max_image_mb: float = 20,
                 max_megapixels: float = 40,
                 max_zip_mb: float = 500,
                 max_files: int = 5000) -> None:
        self.folder = folder
        self.max_image_bytes = int(max_image_mb * 1e6)
        self.max_pixels = int(max_megapixels * 1e6)
        self.max_zip_bytes = int(max_zip_mb * 1e6)
        self.max_files = max_files
        os.makedirs(folder, exist_ok=True)

    def add_image(self, name: str, raw: bytes) -> str:
        """Check ``raw`` (the bytes of the upload called ``name``) and store
        it; returns the stored path. Raises ValueError naming ``name``."""
        if len(raw) > self.max_image_bytes:
            raise ValueError(f'{name}: too large ({len(raw) / 1e6:.1f} MB, '
                             f'the limit is {self.max_image_bytes / 1e6:g} '
                             'MB)')
        try:
            with warnings.catch_warnings():
                warnings.simplefilter('error', Image.DecompressionBombWarning)
                image = Image.open(io.BytesIO(raw))
                pixels = image.width * image.height
                if pixels > self.max_pixels:
                    raise ValueError(
                        f'{name}: too large ({image.width}x{image.height} '
                        f'pixels, the limit is {self.max_pixels / 1e6:g} '
                        'megapixels)')
                image.load()  # decodes it all: truncated files fail here
        except ValueError:
            raise
        except Exception as err:  # PIL raises many types for bad files
            reason = str(err).split(' <_io.BytesIO')[0]
            raise ValueError(f'{name}: not an image ({reason})') from None
        ext = KEPT_FORMATS.get(image.format)
        if ext is None:
            ext = '.png'
            buffer = io.BytesIO()
            image.save(buffer, format='PNG')
            raw = buffer.getvalue()
        path = osp.join(self.folder, uuid.uuid4().hex + ext)
        with open(path, 'wb') as f:
            f.write(raw)
        return path

    def add_files(self,
                  paths: List[str]) -> Tuple[List[Tuple[str, str]], List[str]]:
        """Store the uploaded files ``paths``: ``([(stored path, file
        name)], [skipped file: reason])``."""
        images, skipped = [], []
        for i, path in enumerate(paths):
            name = osp.basename(path)
            if i >= self.max_files:
                skipped.append(f'{len(paths) - i} more files (the limit is '
                               f'{self.max_files} per upload)')
                break
            try:
                size = osp.getsize(path)
                if size > self.max_image_bytes:
                    raise ValueError(
                        f'{name}: too large ({size / 1e6:.1f} MB, the limit '
                        f'is {self.max_image_bytes / 1e6:g} MB)')
                with open(path, 'rb') as f:
                    images.append((self.add_image(name, f.read()), name))
            except (ValueError, OSError) as err:
                skipped.append(str(err))
        return images, skipped

    def add_zip(
        self, path: str, flat: bool = False
    ) -> Tuple[Dict[str, List[Tuple[str, str]]], List[str]]:
        """Store the images of a zip of class folders
        (``<class>/<image>``, at any depth: the image's folder names its
        class): ``({class: [(stored path, member name)]}, [skipped member:
        reason])``. ``flat``: images outside folders are taken too (under
        the class '')."""
        name = osp.basename(path)
        if not zipfile.is_zipfile(path):
            raise ValueError(f'{name}: not a zip archive')
        classes: Dict[str, List[Tuple[str, str]]] = {}
        skipped: List[str] = []
        total = 0
        try:
            with zipfile.ZipFile(path) as archive:
                members = [m for m in archive.infolist() if not m.is_dir()]
                for i, member in enumerate(members):
                    if i >= self.max_files:
                        skipped.append(f'{len(members) - i} more files (the '
                                       f'limit is {self.max_files} per '
                                       'upload)')
                        break
                    where = f'{name}:{member.filename}'
                    reason = self._refused_member(member, flat)
                    if reason is not None:
                        if reason:
                            skipped.append(f'{where}: {reason}')
                        continue
                    if total + member.file_size > self.max_zip_bytes:
                        raise ValueError(
                            f'{name}: more than {self.max_zip_bytes / 1e6:g} '
                            'MB of files; upload a smaller archive')
                    with archive.open(member) as f:
                        raw = f.read(self.max_image_bytes + 1)
                    total += len(raw)
                    parts = PurePosixPath(
                        member.filename.replace('\\', '/')).parts
                    try:
                        stored = self.add_image(where, raw)
                    except ValueError as err:
                        skipped.append(str(err))
                        continue
                    classes.setdefault(parts[-2] if len(parts) > 1 else '',
                                       []).append(
                        (stored, member.filename))
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError,
                EOFError, RuntimeError) as err:  # RuntimeError: encrypted
            raise ValueError(f'{name}: cannot read the archive ({err})'
                             ) from None
        return classes, skipped

    @staticmethod
    def _refused_member(member: zipfile.ZipInfo, flat: bool = False):
        """Why a zip member is not taken: a reason, '' to skip it silently
        (folders' metadata of macOS, hidden files), None to take it."""
        parts = PurePosixPath(member.filename.replace('\\', '/')).parts
        if member.filename.startswith(('/', '\\')) or '..' in parts or (
                parts and ':' in parts[0]):
            return 'unsafe path (absolute or with ..), not extracted'
        if (member.external_attr >> 16) & 0o170000 == 0o120000:
            return 'a symbolic link, not extracted'
        if '__MACOSX' in parts or any(p.startswith('.') for p in parts):
            return ''
        if len(parts) < 2 and not flat:
            return 'not in a class folder (<class>/<image>)'
        return None
