"""The platform's own tasks (not jobs): each declared once in core/platform_tasks.py, its body here."""
