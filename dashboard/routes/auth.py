"""Sign in and out (the guard itself, security.Guard, runs as middleware for every request)."""

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from dashboard import security
from dashboard.context import DashDep, check_csrf

router = APIRouter(include_in_schema=False)


@router.get("/login")
def login_form(dash: DashDep, request: Request, next: str | None = None) -> Response:
    context = {"title": "Sign in", "next": security.safe_next(next), "error": None}
    return dash.render(request, "login.html", context)


@router.post("/login")
async def login(dash: DashDep, request: Request) -> Response:
    form = await request.form()
    check_csrf(request, form.get(security.CSRF_FIELD))
    target = security.safe_next(str(form.get("next") or "/"))
    if dash.token is None:
        return RedirectResponse(target, 303)
    if not security.token_matches(str(form.get("token") or ""), dash.token):
        context = {"title": "Sign in", "next": target, "error": "That token is not right."}
        return dash.render(request, "login.html", context, 401)
    response = RedirectResponse(target, 303)
    dash.guard.sign_in(response, request)
    return response


@router.post("/logout")
async def logout(dash: DashDep, request: Request) -> Response:
    form = await request.form()
    check_csrf(request, form.get(security.CSRF_FIELD))
    response = RedirectResponse("/login", 303)
    dash.guard.sign_out(response)
    return response
