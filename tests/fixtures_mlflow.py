"""Placeholder: the real MLflow server fixture replaces this module."""
