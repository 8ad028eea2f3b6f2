"""One module per job kind: its logic and its task. Schemas live in db/kinds (the API reads them)."""
