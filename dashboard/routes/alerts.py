"""The alerts page (issue 12): stored alerts with filters, linking to the same selection as CSV
and JSON, and the alert rules: the config file's (read-only) and the dashboard's, which are
added, edited and deleted here behind the CSRF check.
"""

from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from dashboard import alert_forms, security
from dashboard.alerts_routes import Filter
from dashboard.context import Dashboard, DashDep, check_csrf
from storage import alert_rules, alert_store, read

FILTER_FIELDS = ("rule", "video", "kind", "status", "since", "until")
PAGE_SIZE = 200
NOTICES = {
    "added": "Rule added. It is checked after the daemon's next write.",
    "updated": "Rule updated.",
    "deleted": "Rule deleted; the alerts it fired stay listed.",
}

router = APIRouter(prefix="/alerts", include_in_schema=False)


def alerts_page(
    dash: Dashboard,
    request: Request,
    flt: alert_store.AlertFilter,
    *,
    form: dict[str, object] | None = None,
    errors: dict[str, str] | None = None,
    editing: str | None = None,
    status_code: int = 200,
) -> Response:
    # Only the filters set: the CSV and JSON links repeat exactly this selection.
    chosen = {k: v for k in FILTER_FIELDS if (v := request.query_params.get(k, ""))}
    context = {
        "title": "Alerts" if editing is None else f"Edit alert rule {editing}",
        # The edit page shows the form alone.
        "alerts": [] if editing else alert_store.list_alerts(dash.engine, flt, limit=PAGE_SIZE),
        "page_size": PAGE_SIZE,
        "chosen": chosen,
        "query": urlencode(chosen),
        "config_rules": dash.settings.alerts.rules,
        "stored_rules": alert_rules.list_rules(dash.engine),
        "targets": sorted(dash.settings.alerts.targets),
        "videos": read.list_videos(dash.engine),
        "platform_names": dash.platforms.names,
        "kinds": alert_forms.CHOICES["kind"],
        "choices": alert_forms.CHOICES,
        "help": alert_forms.FIELD_HELP,
        "statuses": alert_store.DELIVERY_STATUSES,
        "form": form or alert_forms.defaults_form(),
        "errors": errors or {},
        "editing": editing,
        "notice": NOTICES.get(request.query_params.get("notice", "")),
    }
    return dash.render(request, "alerts.html", context, status_code)


@router.get("", response_class=HTMLResponse)
def alerts(dash: DashDep, request: Request, flt: Filter) -> Response:
    return alerts_page(dash, request, flt)


@router.get("/rules/{name}/edit", response_class=HTMLResponse)
def edit_rule_form(dash: DashDep, request: Request, name: str) -> Response:
    form = alert_forms.rule_form(_stored_or_404(dash, name).definition)
    return alerts_page(dash, request, alert_store.AlertFilter(), form=form, editing=name)


@router.post("/rules")
async def add_rule(dash: DashDep, request: Request) -> Response:
    return await save_rule(dash, request, editing=None)


@router.post("/rules/{name}")
async def edit_rule(dash: DashDep, request: Request, name: str) -> Response:
    _stored_or_404(dash, name)
    return await save_rule(dash, request, editing=name)


@router.post("/rules/{name}/delete")
async def delete_rule(dash: DashDep, request: Request, name: str) -> Response:
    raw = await request.form()
    check_csrf(request, raw.get(security.CSRF_FIELD))
    try:
        alert_rules.delete_rule(dash.engine, name)
    except alert_rules.UnknownRule as err:
        # Rules from the config file are not stored, so they 404 here: edit the file instead.
        raise HTTPException(404, f"no alert rule {name[:80]!r} set on the dashboard") from err
    return RedirectResponse("/alerts?notice=deleted#rules", 303)


async def save_rule(dash: Dashboard, request: Request, editing: str | None) -> Response:
    raw = await request.form()
    check_csrf(request, raw.get(security.CSRF_FIELD))
    form: dict[str, object] = {k: str(raw.get(k) or "") for k in alert_forms.TEXT_FIELDS}
    form["targets"] = [str(t) for t in raw.getlist("targets")]
    # An unticked checkbox is absent from a form post, never "off".
    form["during_quiet_hours"] = raw.get("during_quiet_hours") == "on"
    videos = [v.slug for v in read.list_videos(dash.engine)]
    known = alert_forms.known_names(dash.settings.alerts, videos, dash.platforms.names)
    definition, errors = alert_forms.validate_rule(form, known, editing)
    if definition is not None:
        try:
            if editing is None:
                alert_rules.add_rule(dash.engine, definition, dash.clock())
            else:
                alert_rules.replace_rule(dash.engine, definition, dash.clock())
        # Validation saw no such name, but another tab may have added it since: the unique
        # key decides, and the form comes back with the error under its field.
        except alert_rules.RuleExists:
            errors["name"] = f"a rule named {definition['name']!r} exists; pick another"
    if errors or definition is None:
        empty = alert_store.AlertFilter()
        return alerts_page(
            dash, request, empty, form=form, errors=errors, editing=editing, status_code=400
        )
    # Post/redirect/get: a reload of the result page does not post the form again.
    notice = "updated" if editing else "added"
    return RedirectResponse(f"/alerts?notice={notice}#rule-{definition['name']}", 303)


def _stored_or_404(dash: Dashboard, name: str) -> alert_rules.StoredRule:
    found = alert_rules.get_rule(dash.engine, name)
    if found is None:
        raise HTTPException(404, f"no alert rule {name[:80]!r} set on the dashboard")
    return found
