"""The Bento service app."""
