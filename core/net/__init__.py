"""The network guard: which addresses a worker may reach, and one HTTP client that connects only to them."""
