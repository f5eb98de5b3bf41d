"""Webhooks: the JSON schema and signature (payload.py), the dispatcher, the admin service."""
