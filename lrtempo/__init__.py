"""The ``lrtempo`` command line (:mod:`lrtempo.cli`): the layer above the analyzer and
the dashboard."""
