"""Ask: grounded questions over the library, the answer cache and its admin view."""
