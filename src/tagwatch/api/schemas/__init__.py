"""Pydantic models of the API: separate Create, Update and Public models per resource."""
