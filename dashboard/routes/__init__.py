"""One FastAPI router per dashboard area; `dashboard.app.create_app` assembles them.

Each module's `router` is plain routing (no state): handlers get the app's `Dashboard` through
the `DashDep` dependency (dashboard/context.py), parse parameters, call one reader, render.
"""
