"""One FastAPI router per dashboard area; `dashboard.app.create_app` assembles them.

Each module's `router(dash)` closes over the app's `Dashboard` (dashboard/context.py). Handlers
parse parameters, call one reader, render.
"""
