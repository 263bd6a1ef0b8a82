"""The vidact command line."""
