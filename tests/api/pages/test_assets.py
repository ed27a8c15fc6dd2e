"""The static files: the vendored libraries match their manifest and carry their
licences, no template loads anything from another server, every static() a template
names exists, cache busting works, and the Vega-Lite build speaks Altair's version."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
import sys
from pathlib import Path
from types import ModuleType

import altair as alt
import pytest
from fastapi.testclient import TestClient

from api.pages.assets import STATIC_DIR, static_url

ROOT = Path(__file__).resolve().parents[3]
VENDOR = STATIC_DIR / "vendor"
TEMPLATES = sorted((ROOT / "api").glob("**/templates/*.html"))


def vendor_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "vendor_static", ROOT / "scripts" / "vendor_static.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def manifest() -> list[dict]:
    return json.loads((VENDOR / "manifest.json").read_text())  # type: ignore[no-any-return]


def test_the_vendored_files_match_the_manifest() -> None:
    assert vendor_script().check(VENDOR) == []


def test_every_vendored_package_is_pinned_with_its_licence() -> None:
    entries = {e["name"]: e for e in manifest()}
    pinned = {p.name: p.version for p in vendor_script().PACKAGES}
    assert {n: e["version"] for n, e in entries.items()} == pinned
    for name, entry in entries.items():
        assert entry["license"] and entry["integrity"].startswith("sha512-"), name
        assert entry["source"] == f"npm:{name}@{entry['version']}"
        assert any(f.startswith("LICENSE") for f in entry["files"]), name


def test_the_vega_lite_build_speaks_altairs_version() -> None:
    vendored = next(e["version"] for e in manifest() if e["name"] == "vega-lite")
    written = alt.SCHEMA_VERSION.lstrip("v")
    as_tuple = lambda v: tuple(int(x) for x in v.split("."))  # noqa: E731
    assert as_tuple(vendored)[0] == as_tuple(written)[0] and as_tuple(vendored) >= as_tuple(written)


def test_the_interpreter_becomes_a_classic_script_or_the_refresh_stops() -> None:
    script = vendor_script()
    module = "import { a, b } from 'vega-util';\nfunction expression() { return a(b); }\nexport { expression as expressionInterpreter };\n//# sourceMappingURL=x.map\n"
    out = script.esm_to_global_script(module, name="vega-interpreter", version="9")
    assert "const { a, b } = vega;" in out and "vega.expressionInterpreter = expression;" in out
    assert not re.search(r"^(import|export)\b", out, re.M) and "sourceMappingURL" not in out
    with pytest.raises(SystemExit, match="check the new version by hand"):
        script.esm_to_global_script(
            module + "import x from 'vega-dataflow';\n", name="v", version="9"
        )


def test_no_template_loads_anything_from_another_server() -> None:
    assert len(TEMPLATES) >= 8
    outside = re.compile(r"<(script|link|img|iframe)\b[^>]*\b(src|href)=[\"']?(https?:)?//", re.I)
    offenders = [
        f"{t.relative_to(ROOT)}: {m.group(0)}"
        for t in TEMPLATES
        for m in outside.finditer(t.read_text())
    ]
    assert offenders == []


def test_every_static_file_a_template_names_exists() -> None:
    named = {name for t in TEMPLATES for name in re.findall(r"static\('([^']+)'\)", t.read_text())}
    assert "vendor/leaflet/leaflet.js" in named and "fieldrecall/pages.js" in named
    assert [n for n in named if not (STATIC_DIR / n).is_file()] == []


def test_static_urls_change_with_the_file_and_cache_for_a_year(client: TestClient) -> None:
    url = static_url("fieldrecall/pages.js")
    digest = hashlib.sha256((STATIC_DIR / "fieldrecall" / "pages.js").read_bytes()).hexdigest()
    assert url == f"/static/fieldrecall/pages.js?v={digest[:12]}"
    assert client.get(url).headers["Cache-Control"] == "public, max-age=31536000, immutable"
    for stale in ("/static/fieldrecall/pages.js", "/static/fieldrecall/pages.js?v=0123456789ab"):
        assert client.get(stale).headers["Cache-Control"] == "no-cache"
    leaflet = client.get(static_url("vendor/leaflet/leaflet.css"))
    assert leaflet.status_code == 200 and leaflet.headers["content-type"].startswith("text/css")
    assert client.get("/static/../pyproject.toml").status_code == 404
    with pytest.raises(FileNotFoundError):
        static_url("fieldrecall/missing.js")
    with pytest.raises(FileNotFoundError):
        static_url("../pages/__init__.py")
