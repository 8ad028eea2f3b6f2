"""The admin statistics' pure parts (the console's charts)."""
