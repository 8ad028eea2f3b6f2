"""What both the API and the workers know about documents: format detection and error codes.

The API answers 415 for an unsupported type without loading any parser; the parsers live in
workers/documents.
"""
