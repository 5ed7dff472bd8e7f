"""Mail: what each flow sends (messages.py) and how it leaves (transport.py)."""
