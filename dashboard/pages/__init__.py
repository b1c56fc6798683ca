"""Dash Pages of the dashboard (Review, Run, Compare, Upload, Settings).

Dash executes these modules itself when :func:`dashboard.app.create_app` builds an
app; do not import them elsewhere (their callbacks would be registered twice). Their
logic lives in :mod:`dashboard.views`, which tests import instead.
"""
