"""The web app in a real headless browser (Chromium + chromedriver from the
Debian packages, driven by Selenium; nothing is downloaded): classes from
images of coloured shapes, one of them from a zip, a non-image refused in
the page, build, classify a query, and the saved model predicting as the
page showed.

Skips where Gradio, Selenium, chromium or chromedriver are missing, except
with MMMTL_REQUIRE_BROWSER=1 (set by .ci/run, which installs them). With
MMMTL_WEBAPP_SCREENSHOT=PATH it writes the page's picture there
(docs/custom_task_app.png is made so).
"""
import importlib.util
import io
import os
import os.path as osp
import shutil
import time
import urllib.request
import zipfile

import pytest
from PIL import Image

from conftest import free_port
from webapp_fixtures import (SHAPES, export_tiny_model, shape_image,
                             write_shapes)

CHROMIUM = shutil.which('chromium') or '/usr/bin/chromium'
CHROMEDRIVER = shutil.which('chromedriver') or '/usr/bin/chromedriver'


def _missing() -> str:
    for module in ('gradio', 'selenium'):  # found, not imported yet
        if importlib.util.find_spec(module) is None:
            return f'{module} is not installed (pip install -e ".[app,tests]")'
    for path in (CHROMIUM, CHROMEDRIVER):
        if not osp.isfile(path):
            return (f'{path} is missing (apt-get install chromium '
                    'chromium-driver)')
    return ''


MISSING = _missing()
if MISSING and os.environ.get('MMMTL_REQUIRE_BROWSER') == '1':
    raise RuntimeError(f'MMMTL_REQUIRE_BROWSER=1 but {MISSING}')
pytestmark = pytest.mark.skipif(bool(MISSING), reason=MISSING)


def _launch(app, tries: int = 5):
    """Serve on a free port; another process may take the port between
    the probe and the bind, so try again on a new one."""
    for attempt in range(tries):
        with free_port() as port:  # a port the OS just found free
            pass
        try:
            return app.launch(port=port, block=False)[1]
        except OSError:
            if attempt == tries - 1:
                raise


@pytest.fixture
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    os.environ.setdefault('SE_OFFLINE', 'true')  # no Selenium Manager
    options = Options()
    options.binary_location = CHROMIUM
    for arg in ('--headless=new', '--no-sandbox', '--disable-gpu',
                '--disable-dev-shm-usage', '--window-size=1280,1900'):
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options,
                              service=Service(CHROMEDRIVER))
    driver.implicitly_wait(20)  # the page renders after loading
    yield driver
    driver.quit()


def _wait_text(driver, element_id: str, text: str, timeout: float = 30):
    from selenium.webdriver.common.by import By
    end = time.time() + timeout
    while time.time() < end:
        shown = driver.find_element(By.ID, element_id).text
        if text in shown:
            return shown
        time.sleep(0.2)
    raise AssertionError(f'#{element_id} never showed {text!r}; it shows '
                         f'{shown!r}')


def _upload(driver, element_id: str, paths):
    """Choose files in a file component and wait until it lists the last
    (its name without the extension, which the page shows apart)."""
    from selenium.webdriver.common.by import By
    field = driver.find_element(By.CSS_SELECTOR,
                                f'#{element_id} input[type=file]')
    field.send_keys('\n'.join(paths))
    _wait_text(driver, element_id,
               osp.splitext(osp.basename(paths[-1]))[0] + '\n')


def _click(driver, element_id: str):
    from selenium.webdriver.common.by import By
    driver.find_element(By.ID, element_id).click()


def _clear_file(driver, element_id: str):
    from selenium.webdriver.common.by import By
    driver.find_element(By.CSS_SELECTOR,
                        f'#{element_id} button[aria-label=Clear]').click()


def test_build_classify_save_in_the_browser(browser, tmp_path):
    from selenium.webdriver.common.by import By

    from mmmtl.apis import CustomTask
    from mmmtl.webapp.app import WebApp, choices_and_loader
    config, weights, _ = export_tiny_model(str(tmp_path))
    shapes = write_shapes(str(tmp_path / 'shapes'))
    names = list(SHAPES)
    archive = str(tmp_path / 'third.zip')
    with zipfile.ZipFile(archive, 'w') as z:
        for path in shapes[names[2]]:
            z.write(path, f'{names[2]}/{osp.basename(path)}')
    notes = tmp_path / 'notes.txt'
    notes.write_text('not an image')
    query = str(tmp_path / 'query.png')
    shape_image(SHAPES[names[0]], 'circle', seed=999).save(query)

    app = WebApp(*reversed(choices_and_loader(config, weights)))
    try:
        url = _launch(app)
        browser.get(url)
        browser.find_element(By.ID, 'class-name')
        # a mistake first: a text file as a class's only image
        name = browser.find_element(By.CSS_SELECTOR, '#class-name textarea')
        name.send_keys('notes')
        _upload(browser, 'class-files', [str(notes)])
        _click(browser, 'add-class')
        error = _wait_text(browser, 'classes-status', 'Error')
        assert "class 'notes': none of the 1 files is a usable image" in (
            error)
        assert 'notes.txt: not an image' in error
        assert 'Traceback' not in browser.page_source
        _clear_file(browser, 'class-files')
        for i, cls in enumerate(names[:2]):
            name.clear()
            name.send_keys(cls)
            _upload(browser, 'class-files', shapes[cls])
            _click(browser, 'add-class')
            _wait_text(browser, 'classes-status', '3 images added')
            _wait_text(browser, 'classes-table', cls)
            _clear_file(browser, 'class-files')
            browser.find_element(By.ID, 'classes-status').text  # settle
        _upload(browser, 'class-zip', [archive])
        _click(browser, 'add-zip')
        _wait_text(browser, 'classes-table', names[2])
        _click(browser, 'build')
        built = _wait_text(browser, 'build-status', 'Quality estimate')
        assert f'Built: 3 classes: {names[0]} (3), {names[1]} (3), ' \
            f'{names[2]} (3)' in built
        browser.find_element(
            By.CSS_SELECTOR, '#query input[type=file]').send_keys(query)
        browser.find_element(By.CSS_SELECTOR, '#query img')  # uploaded
        _click(browser, 'classify')
        shown = _wait_text(browser, 'classify-status', 'Top class')
        top1 = shown.split('Top class: ')[1].split(' (')[0]
        assert top1 in _wait_text(browser, 'top-k', top1)
        if os.environ.get('MMMTL_WEBAPP_SCREENSHOT'):
            png = browser.get_screenshot_as_png()
            Image.open(io.BytesIO(png)).convert('RGB').quantize(64).save(
                os.environ['MMMTL_WEBAPP_SCREENSHOT'], optimize=True)
        _click(browser, 'save')
        _wait_text(browser, 'save-status', 'Saved 3 classes')
        link = browser.find_element(By.CSS_SELECTOR, '#saved a')
        saved = str(tmp_path / 'downloaded.pth')
        with urllib.request.urlopen(link.get_attribute('href')) as r:
            with open(saved, 'wb') as f:
                f.write(r.read())
    finally:
        app.page.close()
        app.close()
    assert not osp.exists(app.folder)
    task = CustomTask.load(saved)
    assert task.classes == names
    prediction = task.predict(query)[0]
    assert prediction['classes'][0] == top1
    assert f"{top1} ({prediction['probs'][0]:.1%})" in shown
