"""The built site in headless Chromium: every page loads offline and cleanly, the math renders,
the navigation reaches every module, the losses page shows its executed outputs and figures, and
search finds the API.

Needs the `site` extra and Debian's /usr/bin/chromium; without them the module skips, unless
TINYTORCH_REQUIRE names `browser` (as in CI), in which case their absence is a failure.
"""
import functools
import http.server
import importlib
import importlib.util
import os
import threading
import urllib.parse
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
HTML = ROOT / "site" / "_build" / "html"
SCREENSHOTS = ROOT / "site" / "_build" / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PAGE_TIMEOUT_MS = 120_000
REQUIRED = "browser" in {n.strip() for n in os.environ.get("TINYTORCH_REQUIRE", "").split(",")}


def _require(module):
    if not REQUIRED:
        return pytest.importorskip(module, reason=f"{module} is not installed: pip install -e '.[site]'")
    try:
        return importlib.import_module(module)
    except ImportError:
        pytest.fail(f"TINYTORCH_REQUIRE names browser, but {module} is not installed: pip install -e '.[site]'",
                    pytrace=False)


for _module in ("sphinx", "myst_nb", "sphinx_book_theme"):
    _require(_module)
sync_api = _require("playwright.sync_api")
if not CHROMIUM.is_file():
    if REQUIRED:
        pytest.fail(f"TINYTORCH_REQUIRE names browser, but there is no {CHROMIUM} (apt install chromium)",
                    pytrace=False)
    pytest.skip(f"no {CHROMIUM}", allow_module_level=True)


# --- fixtures: the built site, a local server, a browser -------------------------------------

@pytest.fixture(scope="session")
def site_index():
    """Build the site (fast when nothing changed) and return the built index.html."""
    from tito.site import build

    return build(ROOT, echo=lambda line: None)


@pytest.fixture(scope="session")
def base_url(site_index):
    handler = functools.partial(_QuietHandler, directory=str(site_index.parent))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


@pytest.fixture(scope="session")
def browser():
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Visit:
    """A page opened in a fresh context, with every failed, refused or foreign request recorded."""

    def __init__(self, browser, url):
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.page = self.context.new_page()
        self.problems = []
        self.context.route("**/*", self._only_local)
        self.page.on("requestfailed", lambda r: self.problems.append(f"request failed: {r.url} ({r.failure})"))
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        self.page.on("response", lambda r: r.status >= 400 and self.problems.append(f"HTTP {r.status}: {r.url}"))
        # generous timeouts: these tests check what a page loads, not how fast a busy two-core machine loads it (a
        # CI run once passed Playwright's default 30 s waiting for the network to go quiet)
        self.page.goto(url, wait_until="load", timeout=PAGE_TIMEOUT_MS)
        self.page.wait_for_load_state("networkidle", timeout=PAGE_TIMEOUT_MS)

    def _only_local(self, route):
        host = urllib.parse.urlsplit(route.request.url).hostname
        if route.request.url.startswith(("data:", "blob:")) or host == "127.0.0.1":
            route.continue_()
        else:
            self.problems.append(f"request to another host: {route.request.url}")
            route.abort()

    def _console(self, message):
        if message.type == "error":
            self.problems.append(f"console error: {message.text}")

    def close(self):
        self.context.close()


@pytest.fixture
def visit(browser):
    opened = []

    def open_page(url):
        opened.append(Visit(browser, url))
        return opened[-1]

    yield open_page
    for page in opened:
        page.close()


def _screenshot(page, name):
    """A full-page screenshot from the top, so the theme's sticky header and sidebars sit where a reader sees them."""
    page.evaluate("window.scrollTo(0, 0); document.activeElement && document.activeElement.blur()")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name), full_page=True)


def _built_pages(site_index):
    html = site_index.parent
    return sorted(p.relative_to(html).as_posix() for p in html.rglob("*.html")
                  if not p.relative_to(html).parts[0].startswith(("_static", "_sources", "_images")))


def _module_pages():
    """The module pages the build generated from modules/*/*.ipynb."""
    return sorted(f"_generated/modules/{p.stem}.html" for p in (ROOT / "site" / "_generated" / "modules").glob("*.ipynb"))


# --- the checks ------------------------------------------------------------------------------

def test_every_page_loads_without_errors_or_requests_to_other_hosts(site_index, base_url, visit):
    pages = _built_pages(site_index)
    assert {"index.html", "search.html", "losses_vs_pytorch.html", "_generated/api.html"} <= set(pages)
    problems = {}
    for name in pages:
        opened = visit(base_url + name)
        if opened.problems:
            problems[name] = opened.problems
        opened.close()
    assert problems == {}


def test_math_is_rendered_by_the_sites_own_mathjax(site_index, base_url, visit):
    with_math = [name for name in _built_pages(site_index)
                 if 'class="math' in (site_index.parent / name).read_text(encoding="utf-8")]
    assert "losses_vs_pytorch.html" in with_math
    for name in with_math:
        opened = visit(base_url + name)
        page = opened.page
        page.wait_for_selector("mjx-container", timeout=20_000)
        page.wait_for_function(
            "document.querySelectorAll('span.math, div.math').length === 0 ||"
            " document.querySelectorAll('.math mjx-container, mjx-container.MathJax').length >="
            " document.querySelectorAll('span.math, div.math').length",
            timeout=20_000,
        )
        assert page.locator("mjx-merror").count() == 0, f"MathJax reports an error on {name}"
        sources = page.eval_on_selector_all("script[src]", "els => els.map(e => e.src)")
        assert any("/_static/mathjax/" in src for src in sources), f"{name} loads no local MathJax: {sources}"
        assert opened.problems == [], name


def test_sidebar_from_the_landing_page_reaches_every_module_page(site_index, base_url, visit):
    modules = _module_pages()
    assert modules, "no module pages were generated: are there notebooks in modules/*/?"
    opened = visit(base_url)
    page = opened.page
    links = page.locator(".bd-sidebar-primary a.reference.internal")
    targets = {}
    for i in range(links.count()):
        href = links.nth(i).get_attribute("href")
        targets[urllib.parse.urljoin(base_url, href).removeprefix(base_url)] = i
    missing = [m for m in modules if m not in targets]
    assert missing == [], f"the sidebar links to {sorted(targets)}"
    for module in modules:
        page.goto(base_url)
        page.locator(".bd-sidebar-primary a.reference.internal").nth(targets[module]).click()
        page.wait_for_load_state("load")
        assert page.url == base_url + module
        assert page.locator("article h1").first.inner_text().strip(), f"{module} has no title"
    assert opened.problems == []


def test_landing_page_explains_setup_and_workflow(site_index, base_url, visit):
    opened = visit(base_url)
    page = opened.page
    text = page.locator("article").inner_text()
    for expected in ("pip install -e '.[dev]'", "tito export 04_losses", "tito test 04_losses"):
        assert expected in text
    _screenshot(page, "landing.png")
    assert opened.problems == []


def test_losses_page_shows_executed_outputs_and_figures(site_index, base_url, visit):
    opened = visit(base_url + "losses_vs_pytorch.html")
    page = opened.page
    page.wait_for_selector("mjx-container", timeout=20_000)
    text = page.locator("article").inner_text()
    assert "Built with:" in text  # the first cell's printed output
    if importlib.util.find_spec("torch") is not None:
        assert "Not computed" not in text
        assert "the largest difference anywhere is" in text
        assert page.locator(".cell_output table").count() >= 5
    images = page.locator(".cell_output img")
    assert images.count() >= 3
    for i in range(images.count()):
        images.nth(i).scroll_into_view_if_needed()
        width = images.nth(i).evaluate("img => img.complete ? img.naturalWidth : 0")
        assert width > 0, f"figure {i} did not load"
    _screenshot(page, "losses.png")
    assert opened.problems == []


def test_search_finds_cross_entropy_loss(site_index, base_url, visit):
    opened = visit(base_url + "search.html?q=CrossEntropyLoss")
    page = opened.page
    page.wait_for_selector("ul.search li a", timeout=20_000)
    results = page.locator("ul.search li a")
    hrefs = [results.nth(i).get_attribute("href") for i in range(results.count())]
    assert any("CrossEntropyLoss" in (h or "") for h in hrefs), hrefs
    assert opened.problems == []


@pytest.mark.parametrize("module, printed", [
    ("05_optimizers", ["SGD, lr 0.07: after 40 steps", "Adam, lr 0.3: after 40 steps"]),
    ("06_training", ["digits: 1437 training and 360 test samples", "breast cancer: 455 training", "diabetes: 353 training",
                     "resumed run identical to the straight one: True"]),
], ids=["optimizers", "training"])
def test_optimizer_and_training_pages_show_their_runs_and_figures(site_index, base_url, visit, module, printed):
    opened = visit(base_url + f"_generated/modules/{module}.html")
    page = opened.page
    outputs = "\n".join(page.locator(".cell_output").all_inner_texts())
    for expected in printed:
        assert expected in outputs
    assert "matplotlib is not installed" not in outputs
    images = page.locator(".cell_output img")
    assert images.count() >= 1  # the optimizers' paths; the learning curves
    for i in range(images.count()):
        images.nth(i).scroll_into_view_if_needed()
        assert images.nth(i).evaluate("img => img.complete ? img.naturalWidth : 0") > 0, f"figure {i} did not load"
    _screenshot(page, f"{module}.png")
    assert opened.problems == []
