#!/usr/bin/env python3
"""Refresh the vendored front-end assets under ``api/static/vendor/`` from the npm registry.

Nothing is loaded from a CDN at run time: every script and style the pages use is a file of
the package, served from ``/static/``. This script is the only way those files change:

    .venv/bin/python scripts/vendor_static.py           # fetch the pinned versions, rewrite
    .venv/bin/python scripts/vendor_static.py --check   # offline: files match the manifest

To upgrade a package, change its version below, run the script, run the page tests
(``tests/api/pages``), and commit the files with ``manifest.json``. Each package is fetched
with ``npm pack`` (npm checks the tarball against the registry's integrity hash); the chosen
files and the package's licence are copied to ``api/static/vendor/<name>/``, and
``manifest.json`` records the name, version, licence, source tarball, npm integrity and the
sha256 of every file written.

One file is not copied verbatim: vega-interpreter ships only as an ES module that imports
``vega-util`` by its bare name, which a browser cannot resolve without an import map (an
inline script, which the pages' Content-Security-Policy forbids). Vega's own UMD build
exports vega-util, so the module is wrapped into a classic script that reads its imports
from the global ``vega`` and sets ``vega.expressionInterpreter``; the rewrite refuses any
module whose imports or exports are not the expected ones, so an upgrade cannot silently
produce a broken file.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENDOR = ROOT / "api" / "static" / "vendor"
MANIFEST = "manifest.json"
LICENCE_FILES = ("LICENSE", "LICENSE.md", "LICENSE.txt", "NOTICE")


def esm_to_global_script(source: str, *, name: str, version: str) -> str:
    """vega-interpreter's ES module as a classic script on top of Vega's UMD global."""
    imports = re.findall(r"^import \{([^}]*)\} from 'vega-util';\n", source, flags=re.M)
    exports = re.findall(r"^export \{ (\w+) as expressionInterpreter \};\n", source, flags=re.M)
    body = re.sub(r"^import \{[^}]*\} from 'vega-util';\n", "", source, flags=re.M)
    body = re.sub(r"^export \{ \w+ as expressionInterpreter \};\n", "", body, flags=re.M)
    body = re.sub(r"^//# sourceMappingURL=.*\n?", "", body, flags=re.M)
    if len(imports) != 1 or len(exports) != 1 or re.search(r"^(import|export)\b", body, re.M):
        raise SystemExit(
            f"{name}@{version}: expected one `import {{...}} from 'vega-util'` and one "
            "`export { X as expressionInterpreter }`; check the new version by hand"
        )
    names = ", ".join(n.strip() for n in imports[0].split(",") if n.strip())
    return (
        f"/* {name} {version}, as a classic script written by scripts/vendor_static.py: its\n"
        "   vega-util imports are read from the global `vega` (Vega's UMD build exports\n"
        "   vega-util), and it sets vega.expressionInterpreter. */\n"
        "(function (vega) {\n"
        f"const {{ {names} }} = vega;\n"
        f"{body}"
        f"vega.expressionInterpreter = {exports[0]};\n"
        "})(globalThis.vega);\n"
    )


@dataclass(frozen=True)
class Package:
    """An npm package and the files taken from it: ``files`` maps a path inside the
    package to its path under ``api/static/vendor/<name>/``."""

    name: str
    version: str
    files: dict[str, str]
    rewrite: dict[str, Callable[..., str]] = field(default_factory=dict)


def _leaflet_images() -> dict[str, str]:
    names = ("layers.png", "layers-2x.png", "marker-icon.png", "marker-icon-2x.png")
    return {f"dist/images/{n}": f"images/{n}" for n in (*names, "marker-shadow.png")}


# The pinned versions. Vega-Lite's major version must match the one Altair writes
# (tests/api/test_static.py checks it); htmx stays on the 2.x line the pages are written for.
PACKAGES = (
    Package("htmx.org", "2.0.11", {"dist/htmx.min.js": "htmx.min.js"}),
    Package(
        "leaflet",
        "1.9.4",
        {"dist/leaflet.js": "leaflet.js", "dist/leaflet.css": "leaflet.css", **_leaflet_images()},
    ),
    Package("vega", "6.4.0", {"build/vega.min.js": "vega.min.js"}),
    Package("vega-lite", "6.5.0", {"build/vega-lite.min.js": "vega-lite.min.js"}),
    Package("vega-embed", "7.3.0", {"build/vega-embed.min.js": "vega-embed.min.js"}),
    Package(
        "vega-interpreter",
        "2.3.2",
        {"build/vega-interpreter.js": "vega-interpreter.js"},
        rewrite={"build/vega-interpreter.js": esm_to_global_script},
    ),
    Package(
        "swagger-ui-dist",
        "5.35.0",
        {
            "swagger-ui-bundle.js": "swagger-ui-bundle.js",
            "swagger-ui-bundle.js.LICENSE.txt": "swagger-ui-bundle.js.LICENSE.txt",
            "swagger-ui.css": "swagger-ui.css",
        },
    ),
    Package("redoc", "2.5.4", {"bundles/redoc.standalone.js": "redoc.standalone.js"}),
)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def npm_pack(package: Package, into: Path) -> tuple[Path, str]:
    """The package's tarball (npm verifies it against the registry) and its integrity."""
    done = subprocess.run(
        ["npm", "pack", f"{package.name}@{package.version}", "--json", "--pack-destination", into],
        check=True,
        capture_output=True,
        text=True,
    )
    (info,) = json.loads(done.stdout)
    return into / info["filename"], info["integrity"]


def unpack(package: Package, tarball: Path, integrity: str, target: Path) -> dict[str, object]:
    """Write the package's chosen files and licence under ``target/<name>/``; return its
    manifest entry."""
    out = target / package.name
    shutil.rmtree(out, ignore_errors=True)
    with tempfile.TemporaryDirectory() as tmp, tarfile.open(tarball) as archive:
        archive.extractall(tmp, filter="data")
        src = Path(tmp) / "package"
        meta = json.loads((src / "package.json").read_text())
        if meta["version"] != package.version:
            raise SystemExit(f"{package.name}: got {meta['version']}, pinned {package.version}")
        licences = [n for n in LICENCE_FILES if (src / n).is_file()]
        if not licences:
            raise SystemExit(f"{package.name}@{package.version} ships no licence file")
        wanted = {**{n: n for n in licences}, **package.files}
        for inside, dest in wanted.items():
            path = out / dest
            path.parent.mkdir(parents=True, exist_ok=True)
            rewrite = package.rewrite.get(inside)
            if rewrite is None:
                shutil.copyfile(src / inside, path)
            else:
                text = (src / inside).read_text()
                path.write_text(rewrite(text, name=package.name, version=package.version))
    files = sorted(p for p in out.rglob("*") if p.is_file())
    return {
        "name": package.name,
        "version": package.version,
        "license": meta.get("license"),
        "source": f"npm:{package.name}@{package.version}",
        "integrity": integrity,
        "rewritten": sorted(package.files[f] for f in package.rewrite),
        "files": {p.relative_to(out).as_posix(): sha256(p) for p in files},
    }


def write_manifest(entries: list[dict[str, object]], target: Path) -> None:
    (target / MANIFEST).write_text(json.dumps(entries, indent=2, sort_keys=True) + "\n")


def check(target: Path = VENDOR) -> list[str]:
    """Every difference between the files on disk and the manifest (empty when they agree)."""
    entries = json.loads((target / MANIFEST).read_text())
    problems = []
    listed = set()
    for entry in entries:
        for rel, digest in entry["files"].items():
            path = target / entry["name"] / rel
            listed.add(path)
            if not path.is_file():
                problems.append(f"missing: {path.relative_to(target)}")
            elif sha256(path) != digest:
                problems.append(f"changed: {path.relative_to(target)}")
    for path in sorted(target.rglob("*")):
        if path.is_file() and path.name != MANIFEST and path not in listed:
            problems.append(f"not in the manifest: {path.relative_to(target)}")
    return problems


def refresh(target: Path = VENDOR) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for stale in target.iterdir():
        if stale.is_dir() and stale.name not in {p.name for p in PACKAGES}:
            shutil.rmtree(stale)
    entries = []
    with tempfile.TemporaryDirectory() as tmp:
        for package in PACKAGES:
            tarball, integrity = npm_pack(package, Path(tmp))
            entries.append(unpack(package, tarball, integrity, target))
            print(f"{package.name}@{package.version}: {len(package.files)} file(s)")
    write_manifest(entries, target)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="compare with the manifest only")
    args = parser.parse_args()
    if args.check:
        problems = check()
        print("\n".join(problems) or "vendored assets match the manifest")
        return 1 if problems else 0
    refresh()
    return 0


if __name__ == "__main__":
    sys.exit(main())
