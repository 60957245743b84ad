"""Drift: the deployed Cloud Run services compared with out/, by meaning.

exports reads the deployed services (a folder of exports or gcloud); compare walks two
documents and skips server-managed fields and Cloud Run defaults (server_fields); places
finds the profile line behind each value; check runs the comparison for an environment;
report writes it as text, markdown or JSON.
"""
