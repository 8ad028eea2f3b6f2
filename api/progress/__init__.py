"""Progress: recorded learning events, the learner model, reviews, insights."""
