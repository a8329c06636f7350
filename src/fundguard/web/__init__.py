"""The auditors' web app: server-rendered Chinese pages over the workspace (dashboard, flag browser,
flag evidence, institution profile, rule library, national coverage), with log-in.

`install(app)` adds the pages and their static assets to an app made by the API's factory; everything
it serves is local (no CDN).
"""

from fundguard.web.pages import install

__all__ = ["install"]
