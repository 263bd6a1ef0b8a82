"""Prediction on new videos."""
