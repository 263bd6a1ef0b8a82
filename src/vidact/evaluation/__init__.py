"""Metrics, plots and evaluation reports."""
