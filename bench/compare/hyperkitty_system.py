"""GNU Mailman 3's archiver, HyperKitty, on SQLite, with Haystack's Whoosh backend (its
default) or xapian-haystack.

HyperKitty and its dependencies (Django, django-haystack, Whoosh, xapian-haystack) go into a
virtualenv of their own (--hk-venv, kept between runs, as bench/mailman_delivery.py keeps
Mailman's).  It is made with Debian's /usr/bin/python3 and ``--system-site-packages`` so that
the Xapian Python bindings of Debian's python3-xapian are seen; no HyperKitty code is imported
by the harness itself.  Mailman's core is not needed to archive an mbox and is not run: the
import goes straight into HyperKitty (``hyperkitty_import --no-sync-mailman``).

Timed steps, each a child process: ``hyperkitty_import`` (the messages into the SQLite
database; HyperKitty's batch mode, as that command sets it, queues no per-message jobs) and
``update_index`` (Haystack fills the search index, which in production a periodic job does:
HyperKitty's settings use no realtime signal processor).  ``migrate`` is not timed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from base import Imported, NotRun, check, combine, search_child
from measure import du, run

HERE = Path(__file__).resolve().parent
PACKAGES = ["HyperKitty", "Whoosh", "xapian-haystack"]
ENGINES = {
    "whoosh": "haystack.backends.whoosh_backend.WhooshEngine",
    "xapian": "xapian_backend.XapianEngine",
}

SETTINGS = """\
# Written by moot's bench/compare/hyperkitty_system.py: what HyperKitty needs to import, search.
SECRET_KEY = "bench-only"
DEBUG = False
SITE_ID = 1
ALLOWED_HOSTS = ["127.0.0.1"]
TIME_ZONE = "UTC"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
INSTALLED_APPS = [
    "hyperkitty", "django_mailman3", "django.contrib.admin", "django.contrib.auth",
    "django.contrib.contenttypes", "django.contrib.sessions", "django.contrib.sites",
    "django.contrib.messages", "django.contrib.staticfiles", "django.contrib.humanize",
    "rest_framework", "django_gravatar", "compressor", "haystack", "django_q",
    "allauth", "allauth.account", "allauth.socialaccount",
]
MIDDLEWARE = [
    "allauth.account.middleware.AccountMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
ROOT_URLCONF = "hyperkitty.urls"
TEMPLATES = [{{"BACKEND": "django.template.backends.django.DjangoTemplates", "DIRS": [],
              "APP_DIRS": True, "OPTIONS": {{"context_processors": [
                  "django.template.context_processors.request",
                  "django.contrib.auth.context_processors.auth",
                  "django.contrib.messages.context_processors.messages"]}}}}]
DATABASES = {{"default": {{"ENGINE": "django.db.backends.sqlite3", "NAME": {db!r}}}}}
HAYSTACK_CONNECTIONS = {{"default": {{"ENGINE": {engine!r}, "PATH": {index!r}}}}}
Q_CLUSTER = {{"orm": "default", "timeout": 300, "retry": 600}}
MAILMAN_REST_API_URL = "http://127.0.0.1:9"
MAILMAN_REST_API_USER = "restadmin"
MAILMAN_REST_API_PASS = "restpass"
MAILMAN_ARCHIVER_KEY = "bench-only"
MAILMAN_ARCHIVER_FROM = ("127.0.0.1",)
STATIC_URL = "/static/"
STATIC_ROOT = {static!r}
COMPRESS_ENABLED = False
LOGGING = {{"version": 1, "disable_existing_loggers": False,
           "handlers": {{"err": {{"class": "logging.StreamHandler"}}}},
           "root": {{"handlers": ["err"], "level": "WARNING"}}}}
"""


def ensure_venv(venv: Path, install: bool) -> Path:
    """The virtualenv's python, made if need be (and allowed)."""
    python = venv / "bin" / "python"
    marker = venv / ".moot-bench-installed"
    if marker.exists() and python.exists():
        return python
    if not install:
        raise NotRun(f"no HyperKitty virtualenv at {venv}; pass --install to make it")
    base = Path("/usr/bin/python3")
    if not base.exists():
        raise NotRun("/usr/bin/python3 (Debian's, for python3-xapian) is missing")
    for step in ([str(base), "-m", "venv", "--system-site-packages", str(venv)],
                 [str(venv / "bin" / "pip"), "install", "--disable-pip-version-check", "-q",
                  *PACKAGES]):
        out = subprocess.run(step, capture_output=True, text=True)
        if out.returncode != 0:
            raise NotRun(f"{' '.join(step)} failed: {out.stderr[-1000:]}")
    marker.write_text(pip_versions(python))
    return python


def pip_versions(python: Path) -> str:
    code = ("from importlib.metadata import version as v; "
            "print(' '.join(f'{p} {v(p)}' for p in "
            "('HyperKitty', 'Django', 'django-haystack', 'Whoosh', 'xapian-haystack')))")
    return subprocess.run([str(python), "-c", code], capture_output=True, text=True
                          ).stdout.strip()


class HyperKitty:
    def __init__(self, work: Path, address: str, engine: str, venv: Path,
                 install: bool, shared: dict) -> None:
        """``shared``: the same dict for both backends, so the import is run once."""
        self.shared = shared
        self.name, self.syntax = f"hyperkitty-{engine}", "hyperkitty"
        self.engine, self.address = engine, address
        self.work = work / self.name
        self.venv, self.install = venv, install
        self.db, self.index = self.work / "hyperkitty.db", self.work / f"{engine}_index"
        self.python = venv / "bin" / "python"

    def version(self) -> str:
        xap = ""
        if self.engine == "xapian":
            xap = subprocess.run([str(self.python), "-c",
                                  "import xapian; print(xapian.version_string())"],
                                 capture_output=True, text=True).stdout.strip()
        return (pip_versions(self.python) + (f", Xapian {xap} (Debian python3-xapian)"
                                             if xap else "") + ", SQLite")

    def env(self) -> dict[str, str]:
        e = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONHOME")}
        e.update(PYTHONPATH=str(self.work), DJANGO_SETTINGS_MODULE="bench_settings")
        return e

    def django(self, *args: str) -> list[str]:
        return [str(self.python), "-m", "django", *args]

    def setup(self) -> None:
        self.python = ensure_venv(self.venv, self.install)
        if self.engine == "xapian":
            probe = subprocess.run([str(self.python), "-c", "import importlib.util, xapian; "
                                    "assert importlib.util.find_spec('xapian_backend')"],
                                   capture_output=True, text=True)
            if probe.returncode != 0:
                raise NotRun("the Xapian Python bindings are not importable in the "
                             "virtualenv (Debian: apt-get install python3-xapian): "
                             + probe.stderr.strip().splitlines()[-1])
        self.work.mkdir(parents=True, exist_ok=True)
        (self.work / "bench_settings.py").write_text(SETTINGS.format(
            db=str(self.db), static=str(self.work / "static"), engine=ENGINES[self.engine],
            index=str(self.index)))
        check("django migrate", run(self.django("migrate", "--noinput", "-v", "0"),
                                    env=self.env()))

    def load(self, mbox: Path) -> Imported:
        notes = []
        if "import" in self.shared:  # the other backend's import, measured once
            imp, db = self.shared["import"]
            shutil.copyfile(db, self.db)
            notes.append(f"hyperkitty_import measured once, with {self.shared['by']}, and its "
                         "database copied: the import does not touch the search index")
        else:
            imp = check("hyperkitty_import", run(self.django(
                "hyperkitty_import", "--no-sync-mailman", "-v", "0", "-l", self.address,
                str(mbox)), env=self.env()))
            shutil.copyfile(self.db, self.work / "imported.db")
            self.shared.update({"import": (imp, self.work / "imported.db"), "by": self.name})
        idx = check("update_index", run(self.django("update_index", "-v", "0"), env=self.env()))
        count = check("count", run(self.django(
            "shell", "-c", "from hyperkitty.models import Email; "
            "import json; print(json.dumps(Email.objects.count()))"), env=self.env()))
        failed = [ln for ln in imp.stderr.splitlines() if "failed" in ln.lower()]
        if failed:
            notes.append(f"{len(failed)} messages HyperKitty refused")
        return combine({"hyperkitty_import": imp, "update_index": idx},
                       json.loads(count.stdout.strip().splitlines()[-1]), notes)

    def size(self) -> int:
        return du(self.db, self.index)  # imported.db, a copy for the other backend, is not

    def search(self, queries: list[tuple[int, str]], rounds: int) -> list[dict]:
        return search_child([str(self.python), str(HERE / "search_hyperkitty.py"),
                             self.address], self.work, queries, rounds, env=self.env(),
                            label=self.name)
