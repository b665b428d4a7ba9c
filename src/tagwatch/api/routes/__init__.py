"""The API's routes, one small module per resource; `app.py` mounts them under /api/v1."""
