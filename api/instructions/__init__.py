"""Instructions: versioned system prompts per kind, the label `active`; the Instructions page."""
