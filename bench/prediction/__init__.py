"""Accuracy of the departure and energy prediction (domain/dwell_prediction.py) on
real ACN-Data sessions."""
