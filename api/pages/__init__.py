"""The users' web surfaces, server-rendered: the support lead's console
(``console/``), the technician's pages (``technician/``), the partner's pages
(``partner/``) and the vendored API documentation (``docs/``), each with its templates
beside its routes.

The building blocks every surface shares: ``templating`` (one Jinja2 setup, the base
layout, ``page()``), ``assets`` (``/static/`` with cache busting), ``errors`` (a page's
refusals as HTML pages, never JSON), ``sessions`` (signed session cookies and CSRF tokens)
and ``widgets`` (Vega-Lite charts declared with Altair, GeoJSON maps drawn by Leaflet).
"""

from api.pages.templating import page, template

__all__ = ["page", "template"]
