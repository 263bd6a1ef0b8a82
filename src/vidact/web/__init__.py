"""The web app: one loaded Predictor per checkpoint behind an upload page and a JSON API."""
