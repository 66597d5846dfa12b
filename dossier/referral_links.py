"""`GET /r/{code}`: a contact's referral link (crm/services/referrals.py).

- 302 to the account's referral landing page (`updateAccountSettings(referralLandingUrl)`)
  with `ref={code}` added to its query; the page hands the code back with the lead
  (`referralCode` / `ref` of `POST /forms/{key}`, or `submitLead(input: {referralCode})`).
- 404, a small HTML page saying so, for a code no contact has (the same page whatever the
  reason, so codes cannot be probed for which account they belong to), or when the code's
  account has no landing page yet.

No API key: the code is all a visitor holds. Nothing is written, so nothing needs a limit
beyond the server's own.
"""

from __future__ import annotations

from html import escape

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from crm.services import referrals

REFERRAL_ROUTE = referrals.REFERRAL_PATH
_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
_NOT_FOUND = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Referral link not found</title></head>
<body><h1>Referral link not found</h1>
<p>The referral link <code>{code}</code> is unknown, or its business has no referral page yet.
Check the link you were sent, or ask the person who sent it for a new one.</p></body></html>
"""


async def referral_redirect(request: Request) -> Response:
    code = request.path_params["code"]
    target = await referrals.landing_for_code(code)
    if target is None:
        return HTMLResponse(_NOT_FOUND.format(code=escape(code[:64])), status_code=404, headers=_HEADERS)
    return RedirectResponse(target, status_code=302, headers=_HEADERS)
