"""Streamlit interface for credit officers; speaks to the service over HTTP only."""
