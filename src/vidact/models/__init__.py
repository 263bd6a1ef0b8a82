"""Frame encoders, temporal heads and the clip classifier."""
