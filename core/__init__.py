"""The shared core: what the API, the workers and the command line all use, and nothing heavy.

Settings, Redis names and clients, broker publishing and its fixes, the model catalog, the
job spec types, the network guard and document format detection. It imports no other
mentorq package, so any of them may import it.
"""

__version__ = "0.1.0"
