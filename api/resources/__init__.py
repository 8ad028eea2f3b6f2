"""Resources: suggested documents for a learner's query."""
